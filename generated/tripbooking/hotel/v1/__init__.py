"""Generated protobuf package; do not edit (make protos)."""
