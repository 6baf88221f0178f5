"""The hotel service: rooms per hotel and night (tripbooking.hotel.v1.HotelService)."""
