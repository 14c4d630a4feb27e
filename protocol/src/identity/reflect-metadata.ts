// Minimal Reflect metadata polyfill: @peculiar/x509 2.x (via tsyringe) throws at import without one.
type MetadataKey = string | symbol;
type Target = object;
type Member = string | symbol | undefined;

interface ReflectMetadataApi {
  defineMetadata(key: MetadataKey, value: unknown, target: Target, property?: Member): void;
  getOwnMetadata(key: MetadataKey, target: Target, property?: Member): unknown;
  getMetadata(key: MetadataKey, target: Target, property?: Member): unknown;
  hasOwnMetadata(key: MetadataKey, target: Target, property?: Member): boolean;
  hasMetadata(key: MetadataKey, target: Target, property?: Member): boolean;
  metadata(key: MetadataKey, value: unknown): (target: Target, property?: Member) => void;
}

const store = new WeakMap<Target, Map<Member, Map<MetadataKey, unknown>>>();

function ownMap(target: Target, property: Member, create: boolean): Map<MetadataKey, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let entries = byProperty.get(property);
  if (!entries && create) {
    entries = new Map();
    byProperty.set(property, entries);
  }
  return entries;
}

const api: ReflectMetadataApi = {
  defineMetadata(key, value, target, property) {
    ownMap(target, property, true)?.set(key, value);
  },
  getOwnMetadata(key, target, property) {
    return ownMap(target, property, false)?.get(key);
  },
  getMetadata(key, target, property) {
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const entries = ownMap(t, property, false);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  },
  hasOwnMetadata(key, target, property) {
    return ownMap(target, property, false)?.has(key) ?? false;
  },
  hasMetadata(key, target, property) {
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      if (ownMap(t, property, false)?.has(key)) return true;
    }
    return false;
  },
  metadata(key, value) {
    return (target, property) => api.defineMetadata(key, value, target, property);
  },
};

const reflect = Reflect as unknown as Partial<ReflectMetadataApi> & Record<string, unknown>;
if (typeof reflect.getMetadata !== "function") {
  for (const [name, fn] of Object.entries(api)) {
    if (typeof reflect[name] !== "function") Object.defineProperty(Reflect, name, { value: fn, configurable: true, writable: true });
  }
}
