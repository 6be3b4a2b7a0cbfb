"""Sends one GenAI agent trace with the OpenTelemetry Python SDK's OTLP/gRPC exporter."""
import os, sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

resource = Resource.create({"service.name": "grpc-agent", "deployment.environment.name": "e2e"})
provider = TracerProvider(resource=resource)
exporter = OTLPSpanExporter()  # endpoint, headers and insecure from OTEL_EXPORTER_OTLP_* variables
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("argus-e2e")
with tracer.start_as_current_span("invoke_agent grpc-agent") as root:
    root.set_attribute("gen_ai.operation.name", "invoke_agent")
    root.set_attribute("gen_ai.agent.name", "grpc-agent")
    with tracer.start_as_current_span("chat gpt-4o-mini") as chat:
        chat.set_attribute("gen_ai.operation.name", "chat")
        chat.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        chat.set_attribute("gen_ai.usage.input_tokens", 120)
        chat.set_attribute("gen_ai.usage.output_tokens", 30)
    trace_id = format(root.get_span_context().trace_id, "032x")
ok = provider.force_flush(10_000)
provider.shutdown()
print(trace_id if ok else "", flush=True)
sys.exit(0 if ok else 1)
