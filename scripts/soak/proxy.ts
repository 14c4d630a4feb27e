// A TCP proxy that can partition the network: while cut it forwards nothing (bytes wait, as TCP would), then heals.
import type { Socket, TCPSocketListener } from "bun";

/** Bytes for one direction, written in order once the partition heals and the peer drains. */
class Pipe {
  private queue: Uint8Array[] = [];
  constructor(private readonly proxy: PartitionProxy) {}
  to: Socket<unknown> | null = null;

  push(data: Uint8Array): void {
    this.queue.push(new Uint8Array(data));
    this.flush();
  }

  flush(): void {
    if (this.proxy.cut || !this.to) return;
    while (this.queue.length > 0) {
      const head = this.queue[0] as Uint8Array;
      const n = this.to.write(head);
      if (n < head.length) {
        this.queue[0] = head.subarray(Math.max(0, n));
        return; // the rest on drain
      }
      this.queue.shift();
    }
  }
}

interface Link {
  up: Pipe; // client → upstream
  down: Pipe; // upstream → client
  client: Socket<unknown>;
  upstream: Socket<unknown> | null;
}

export class PartitionProxy {
  cut = false;
  private readonly links = new Set<Link>();
  private readonly listener: TCPSocketListener<Link | null>;

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {
    const proxy = this;
    this.listener = Bun.listen<Link | null>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          const link: Link = { up: new Pipe(proxy), down: new Pipe(proxy), client: client as Socket<unknown>, upstream: null };
          link.down.to = client as Socket<unknown>;
          client.data = link;
          proxy.links.add(link);
          void Bun.connect<Link>({
            hostname: proxy.upstreamHost,
            port: proxy.upstreamPort,
            data: link,
            socket: {
              open(up) {
                link.upstream = up as Socket<unknown>;
                link.up.to = up as Socket<unknown>;
                link.up.flush();
              },
              data(_up, bytes) {
                link.down.push(bytes);
              },
              drain() {
                link.up.flush();
              },
              close() {
                link.client.end();
                proxy.links.delete(link);
              },
              error() {
                link.client.end();
              },
            },
          }).catch(() => client.end());
        },
        data(client, bytes) {
          client.data?.up.push(bytes);
        },
        drain(client) {
          client.data?.down.flush();
        },
        close(client) {
          client.data?.upstream?.end();
          if (client.data) proxy.links.delete(client.data);
        },
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  /** Stops forwarding in both directions; connections stay open. */
  partition(): void {
    this.cut = true;
  }

  /** Forwards again, starting with everything that waited. */
  heal(): void {
    this.cut = false;
    for (const l of this.links) {
      l.up.flush();
      l.down.flush();
    }
  }

  stop(): void {
    for (const l of this.links) {
      l.client.end();
      l.upstream?.end();
    }
    this.listener.stop(true);
  }
}
