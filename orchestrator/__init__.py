"""The trip saga on Temporal (TripWorkflow, its activities and worker) and the TripService API."""
