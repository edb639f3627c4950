"""Learning-content rankers for DigComp pathways, with offline evaluation."""
