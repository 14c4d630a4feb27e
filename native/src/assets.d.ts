// Files imported `with { type: "file" }` resolve to a path (a $bunfs path inside a compiled binary).
declare module "*.c" {
  const path: string;
  export default path;
}
