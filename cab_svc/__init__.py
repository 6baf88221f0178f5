"""The cab service: each city's fleet per pickup hour (tripbooking.cab.v1.CabService)."""
