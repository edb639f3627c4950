"""The HTTP service, its persistence and the digipath command line."""
