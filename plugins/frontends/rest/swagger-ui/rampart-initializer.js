// Loads the agent's own OpenAPI document. Once API keys exist, open the
// page as /swagger-ui/?key=<token> (or use Authorize): the key is sent with
// the document request and with every "Try it out".
window.onload = function () {
  const key = new URLSearchParams(window.location.search).get("key");
  window.ui = SwaggerUIBundle({
    url: "/api-docs/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    requestInterceptor: function (req) {
      if (key && !req.headers["Authorization"]) req.headers["Authorization"] = "Bearer " + key;
      return req;
    },
  });
};
