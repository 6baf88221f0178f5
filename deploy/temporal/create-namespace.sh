#!/bin/sh
# Register the namespace the suite uses, once Temporal answers; nothing to do if it exists.
set -eu
ns="${NAMESPACE:-default}"
if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention 7d
fi
