"""MLflow tracking, pyfunc wrappers and the model registry (the only part that imports mlflow)."""
