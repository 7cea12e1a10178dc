"""Johnson et al. 2016 perceptual-loss trainer."""
