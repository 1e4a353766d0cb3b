// Type strings of the CEL layer: declared field types, result-type compatibility, portable types.
import { describe, expect, it } from "vitest";
import { assignable, defaultScope, elementType, parseDeclaredType, portableType } from "../../../runtime/cel/types.ts";

describe("declared field types", () => {
  it("accepts scalars, lists and string- or int-keyed maps, normalising spaces", () => {
    expect(parseDeclaredType("string")).toBe("string");
    expect(parseDeclaredType("list<map<string,int>>")).toBe("list<map<string, int>>");
    expect(parseDeclaredType("map<string, list<double>>")).toBe("map<string, list<double>>");
  });

  it("rejects unknown names and malformed generics", () => {
    for (const t of ["dobule", "list<>", "map<string>", "map<double, int>", "list<int", "Record"]) expect(parseDeclaredType(t)).toBeUndefined();
  });
});

describe("result types", () => {
  it("lets dyn through, widens int to double, and accepts any list or map", () => {
    expect(assignable("dyn", "bool")).toBe(true);
    expect(assignable("int", "double")).toBe(true);
    expect(assignable("double", "int")).toBe(false);
    expect(assignable("list<string>", "list")).toBe(true);
    expect(assignable("map<string, dyn>", "map")).toBe(true);
    expect(assignable("google.protobuf.Timestamp", "timestamp")).toBe(true);
    expect(assignable("string", "bool")).toBe(false);
  });

  it("makes object types portable as dyn", () => {
    expect(portableType("Record")).toBe("dyn");
    expect(portableType("list<Record>")).toBe("list<dyn>");
    expect(portableType("map<string, google.protobuf.Duration>")).toBe("map<string, duration>");
    expect(elementType("list<string>")).toBe("string");
    expect(elementType("dyn")).toBe("dyn");
  });
});

describe("default scopes", () => {
  it("types each site variable as the runtime passes it", () => {
    expect(defaultScope("bool", ["record", "key", "window"])).toEqual({
      returns: "bool",
      vars: { record: "map", key: "dyn", window: "Window" },
      types: [{ name: "Window", fields: { start: "int", end: "int" } }],
    });
  });
});
