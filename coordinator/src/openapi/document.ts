// The OpenAPI 3.1 document of the client API, built by hand (the routes carry no schemas of their own).
import type { JsonSchema, MediaType, OpenApiDocument, Operation, Parameter, Ref, ResponseObject } from "./model.ts";
import { componentSchemas, type SchemaName } from "./schemas.ts";

const schema = (name: SchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (s: JsonSchema): Record<string, MediaType> => ({ "application/json": { schema: s } });

/** Error responses every operation may list, by status. */
const ERRORS = {
  400: ["BadRequest", "The request is invalid (bad JSON, a missing or wrong field, a limit exceeded)."],
  401: ["Unauthorized", "No API key, or an unknown or revoked one."],
  403: ["Forbidden", "The credential is valid but may not do this (e.g. a used or expired enrolment token)."],
  404: ["NotFound", "No such model or job (another key's job reads as missing)."],
  409: ["Conflict", "The job was cancelled, or has already finished."],
  413: ["TooLarge", "The request body is over the endpoint's limit (code `request_too_large`); nothing was read past it."],
  500: ["ServerError", "Unexpected error; it has been logged on the coordinator."],
  502: ["JobFailed", "The job failed on every attempt; `code` is the worker's error code."],
  503: ["Unavailable", "No worker is online or the queue is full; retry after `Retry-After` seconds."],
} as const;
type ErrorStatus = keyof typeof ERRORS;

function errorResponses(...statuses: ErrorStatus[]): Record<string, Ref> {
  return Object.fromEntries([...statuses, 500].map((s) => [String(s), { $ref: `#/components/responses/${ERRORS[s as ErrorStatus][0]}` }]));
}

function componentResponses(): Record<string, ResponseObject> {
  return Object.fromEntries(
    Object.entries(ERRORS).map(([status, [name, description]]) => {
      const response: ResponseObject = { description, content: json(schema("Error")) };
      if (status === "503") {
        response.headers = { "Retry-After": { description: "Seconds to wait before retrying.", schema: { type: "integer", minimum: 1 } } };
      }
      return [name, response];
    }),
  );
}

const jobHeader = {
  "X-GoGrid-Job": { description: "The id of the job that ran the request.", schema: { type: "string", format: "uuid" } },
};
const idParam = (description: string): Parameter => ({ name: "id", in: "path", required: true, description, schema: { type: "string" } });

function generation(kind: "completion" | "chat"): Operation {
  const chat = kind === "chat";
  return {
    operationId: chat ? "createChatCompletion" : "createCompletion",
    summary: chat ? "Create a chat completion" : "Create a completion",
    description:
      "Queues a job and answers when it ends, or streams its tokens as server-sent events when `stream` is true. " +
      "A worker lost mid-job is replaced without the client seeing it. Closing the connection cancels the job.",
    tags: ["OpenAI-compatible"],
    requestBody: { required: true, content: json(schema(chat ? "ChatRequest" : "CompletionRequest")) },
    responses: {
      "200": {
        description: "The finished job, or its token stream.",
        headers: jobHeader,
        content: {
          ...json(schema(chat ? "ChatCompletion" : "Completion")),
          "text/event-stream": {
            schema: {
              type: "string",
              description: `Server-sent events: each \`data:\` line holds a ${chat ? "ChatCompletionChunk" : "CompletionChunk"} (or an Error body if the job failed); the stream ends with \`data: [DONE]\`.`,
            },
          },
        },
      },
      ...errorResponses(400, 401, 404, 409, 413, 502, 503),
    },
  };
}

function paths(): OpenApiDocument["paths"] {
  return {
    "/v1/models": {
      get: {
        operationId: "listModels",
        summary: "List models",
        tags: ["OpenAI-compatible"],
        responses: { "200": { description: "Published models.", content: json(schema("ModelList")) }, ...errorResponses(401) },
      },
    },
    "/v1/models/{id}": {
      get: {
        operationId: "retrieveModel",
        summary: "Retrieve a model",
        tags: ["OpenAI-compatible"],
        parameters: [idParam("Model id.")],
        responses: { "200": { description: "The model.", content: json(schema("Model")) }, ...errorResponses(401, 404) },
      },
    },
    "/v1/completions": { post: generation("completion") },
    "/v1/chat/completions": { post: generation("chat") },
    "/api/v1/jobs": {
      post: {
        operationId: "submitJob",
        summary: "Queue a job",
        description:
          "Queues a completion (`prompt`) or chat (`messages`) job and returns at once; poll GET /api/v1/jobs/{id}. `stream` must not be true.",
        tags: ["Jobs"],
        requestBody: { required: true, content: json({ oneOf: [schema("CompletionRequest"), schema("ChatRequest")] }) },
        responses: { "202": { description: "Queued.", content: json(schema("Job")) }, ...errorResponses(400, 401, 404, 413, 503) },
      },
    },
    "/api/v1/jobs/{id}": {
      get: {
        operationId: "getJob",
        summary: "Get a job",
        tags: ["Jobs"],
        parameters: [idParam("Job id.")],
        responses: {
          "200": { description: "The job and, once finished, its result or error.", content: json(schema("Job")) },
          ...errorResponses(401, 404),
        },
      },
      delete: {
        operationId: "cancelJob",
        summary: "Cancel a job",
        description: "Cancels a queued or running job; its worker is told to stop.",
        tags: ["Jobs"],
        parameters: [idParam("Job id.")],
        responses: { "200": { description: "The cancelled job.", content: json(schema("Job")) }, ...errorResponses(401, 404, 409) },
      },
    },
    "/api/v1/register": {
      post: {
        operationId: "registerWorker",
        summary: "Enrol a worker",
        description:
          "Signs the worker's CSR into a client certificate for the worker port. Authenticated by the single-use enrolment token in the body.",
        tags: ["Workers"],
        security: [],
        requestBody: { required: true, content: json(schema("RegisterRequest")) },
        responses: {
          "200": { description: "The new certificate.", content: json(schema("RegisterResponse")) },
          ...errorResponses(400, 403, 413),
        },
      },
    },
  };
}

export interface DocumentOptions {
  version: string;
  /** Base URL shown to readers; omitted, paths are relative to where the document was fetched. */
  serverUrl?: string;
}

export function openApiDocument(options: DocumentOptions): OpenApiDocument {
  return {
    openapi: "3.1.0",
    info: {
      title: "GoGrid API",
      version: options.version,
      description:
        "OpenAI-compatible inference on a network of GPU workers, plus the native job API and worker enrolment. " +
        "Authenticate with an API key from the operator (`gogrid-admin keys create`) as `Authorization: Bearer <key>`.",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [
      { name: "OpenAI-compatible", description: "Drop-in endpoints for OpenAI SDKs (base URL `<server>/v1`)." },
      { name: "Jobs", description: "Queue a job and poll or cancel it later." },
      { name: "Workers", description: "Enrolment of GPU workers." },
    ],
    security: [{ bearerAuth: [] }],
    paths: paths(),
    components: {
      // JSON round trip: plain JSON Schema without TypeBox's symbol-keyed metadata
      schemas: JSON.parse(JSON.stringify(componentSchemas)) as Record<string, JsonSchema>,
      responses: componentResponses(),
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "API key", description: "An API key (`gg-…`)." },
      },
    },
  };
}
