"""Built-in trainers (``objective: {trainer: ...}``): XGBoost, scikit-learn, Spark ML and
xgboost.spark."""
