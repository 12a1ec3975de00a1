"""Training and using models: examples per job, tokens, sampling, trainer, evaluation, predict."""
