// The API reference, laid out from the OpenAPI description the server serves.
import { getJSON } from "./api.js";
import { clear, h } from "./dom.js";

let spec = null;

function resolve(schema) {
  if (schema && schema.$ref) return resolve(spec.components.schemas[schema.$ref.split("/").pop()]);
  return schema || {};
}

function refName(schema) {
  return schema && schema.$ref ? schema.$ref.split("/").pop() : null;
}

function typeOf(schema) {
  const name = refName(schema);
  if (name) return name;
  const resolved = resolve(schema);
  if (resolved.enum) return resolved.enum.map((value) => JSON.stringify(value)).join(" | ");
  if (resolved.type === "array") return `array of ${typeOf(resolved.items)}`;
  if (resolved.oneOf || resolved.anyOf) return (resolved.oneOf || resolved.anyOf).map(typeOf).join(" or ");
  if (resolved.type === "object" && !resolved.properties && resolved.additionalProperties) {
    return `{name: ${typeOf(resolved.additionalProperties)}}`;
  }
  return resolved.type || "any";
}

// A schema as a nested list of its fields.
function schemaView(schema, depth = 0) {
  const resolved = resolve(schema);
  const parts = [];
  if (resolved.description) parts.push(h("p", {}, resolved.description));
  const variants = resolved.oneOf || resolved.anyOf;
  if (variants && depth < 2) {
    parts.push(h("p", {}, resolved.oneOf ? "One of:" : "Any of:"));
    for (const variant of variants) {
      parts.push(h("div", { class: "schema" }, h("p", {}, h("span", { class: "type" }, typeOf(variant))),
        schemaView(variant, depth + 1)));
    }
  }
  const required = new Set(resolved.required || []);
  for (const [name, property] of Object.entries(resolved.properties || {})) {
    const inner = resolve(property);
    parts.push(h("div", { class: "schema" },
      h("p", {}, h("span", { class: "prop" }, name), " ", h("span", { class: "type" }, typeOf(property)),
        required.has(name) ? h("span", { class: "required" }, " required") : null),
      inner.description ? h("p", {}, inner.description) : null,
      inner.properties && depth < 2 ? schemaView(property, depth + 1) : null));
  }
  return parts;
}

function example(value) {
  return value === undefined ? null : h("pre", { class: "example" }, JSON.stringify(value, null, 2));
}

function operationId(method, path) {
  return `${method}-${path}`.replace(/[^a-zA-Z0-9]+/g, "-");
}

function operationView(path, method, operation) {
  const parts = [
    h("div", { class: "operation-head" },
      h("span", { class: `method ${method}` }, method.toUpperCase()), h("h3", {}, path)),
    h("p", { class: "operation-summary" }, operation.summary),
  ];
  if (operation.description) parts.push(h("p", {}, operation.description));
  if (operation.parameters) {
    parts.push(h("h4", {}, "Parameters"), ...operation.parameters.map((parameter) => h("div", { class: "schema" },
      h("p", {}, h("span", { class: "prop" }, parameter.name), " ",
        h("span", { class: "type" }, `${typeOf(parameter.schema)} in ${parameter.in}`),
        parameter.required ? h("span", { class: "required" }, " required") : null),
      parameter.description ? h("p", {}, parameter.description) : null)));
  }
  if (operation.requestBody) {
    const [[mediaType, media]] = Object.entries(operation.requestBody.content);
    parts.push(h("h4", {}, "Body ", h("code", {}, mediaType)), ...schemaView(media.schema), example(media.example));
  }
  if (operation["x-answer"]) {
    parts.push(h("h4", {}, "The answer's data, once the job is done"),
      h("p", {}, h("span", { class: "type" }, typeOf(operation["x-answer"].schema))),
      ...schemaView(operation["x-answer"].schema), example(operation["x-answer"].example));
  }
  parts.push(h("h4", {}, "Responses"), h("table", { class: "responses" },
    h("tbody", {}, Object.entries(operation.responses).map(([status, response]) => {
      const media = response.content ? Object.entries(response.content)[0] : null;
      return h("tr", {}, h("td", {}, status), h("td", {},
        h("p", {}, response.description),
        media ? h("p", {}, h("code", {}, media[0]), " ", h("span", { class: "type" }, typeOf(media[1].schema))) : null,
        media && media[1].example !== undefined
          ? h("details", {}, h("summary", {}, "Example"), example(media[1].example)) : null));
    }))));
  return h("article", { class: "operation card", id: operationId(method, path) }, parts);
}

async function start() {
  const main = document.getElementById("reference");
  const nav = document.getElementById("docs-nav");
  try {
    spec = await getJSON("/api/openapi.json");
  } catch (error) {
    main.append(h("p", { class: "refusal" }, `The description could not be read: ${error.message}`));
    return;
  }
  const sections = spec.tags.map((tag) => ({ tag, operations: [] }));
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      sections.find((section) => section.tag.name === operation.tags[0]).operations.push([path, method, operation]);
    }
  }
  clear(main).append(
    h("header", { class: "docs-intro" },
      h("h1", {}, `${spec.info.title} API`),
      h("p", {}, spec.info.description),
      h("p", { class: "hint" }, "Version ", spec.info.version, " · OpenAPI ", spec.openapi, " · ",
        h("a", { href: "/api/openapi.json" }, "the description as JSON"))),
    ...sections.map((section) => h("section", { class: "tag-section", id: `tag-${section.tag.name}` },
      h("h2", {}, section.tag.name), h("p", { class: "hint" }, section.tag.description),
      section.operations.map((entry) => operationView(...entry)))));
  clear(nav).append(...sections.flatMap((section) => [
    h("h2", {}, section.tag.name),
    h("ul", {}, section.operations.map(([path, method]) => h("li", {},
      h("a", { href: `#${operationId(method, path)}` }, `${method.toUpperCase()} ${path}`)))),
  ]));
  document.body.dataset.ready = "true";
}

start();
