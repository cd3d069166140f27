// The console's API page: Swagger UI over the document named by #swagger-ui's data-spec-url.
"use strict";

(function () {
  const container = document.getElementById("swagger-ui");
  if (!container || typeof SwaggerUIBundle === "undefined") {
    return;
  }
  SwaggerUIBundle({
    url: container.dataset.specUrl,
    domNode: container,
    deepLinking: true,
    // Our documents hold no secrets; "Try it out" sends the zt-session set with Authorize.
    persistAuthorization: false,
  });
})();
