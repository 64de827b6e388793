// A service under test (createService, fastify's inject): requests without a socket, and the
// teardown every route suite does.
import type { Service } from "../../orchestrator/serve/service.js";
import type { SourceTable } from "./audience.js";

/** Clears the mapping the suite made, closes the service, drops the table; each may be missing. */
export async function disposeService(service: Service | undefined, table: SourceTable | undefined): Promise<void> {
  await service?.mapping.mapper.clear();
  await service?.close();
  await table?.drop();
}
