"""The bundled sandbox: a local HTTP server speaking Cliniko's REST API over a synthetic world."""
