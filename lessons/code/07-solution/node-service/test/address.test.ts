import { test } from "node:test";
import assert from "node:assert/strict";
import { serverAddress } from "../src/client";

test("serverAddress: the argument, else GRPC_ADDR, else the default", () => {
  assert.equal(serverAddress([], {}), "127.0.0.1:50051");
  assert.equal(serverAddress([], { GRPC_ADDR: "127.0.0.1:50052" }), "127.0.0.1:50052");
  assert.equal(serverAddress(["127.0.0.1:50053"], { GRPC_ADDR: "127.0.0.1:50052" }), "127.0.0.1:50053");
  assert.equal(serverAddress([], { GRPC_ADDR: "" }), "127.0.0.1:50051");
});
