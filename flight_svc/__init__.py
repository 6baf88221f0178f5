"""The flight service: seats per flight and date (tripbooking.flight.v1.FlightService)."""
