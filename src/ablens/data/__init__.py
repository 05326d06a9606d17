"""Engine adapters: compute per-arm `ablens.Moments` where the data lives.

Each adapter imports its engine lazily, only when the user passes that engine's objects.
"""
