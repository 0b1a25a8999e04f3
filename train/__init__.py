"""PyTorch side: DAViD models, losses, augmentations, metrics, training loop and export."""
