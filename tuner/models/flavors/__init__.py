"""The built-in model flavors (``tuner.flavors`` entry points): sklearn and xgboost."""
