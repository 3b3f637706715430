import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';

/**
 * lz4 and zstd compressors for the file output, producing the standard frame formats that `lz4 -dc`
 * and `zstd -dc` read. Where Node has zlib.createZstdCompress (>= 22.15 / 23.8) zstd streams through
 * it; otherwise, and for lz4, input is gathered into chunks of CHUNK_BYTES and each chunk becomes one
 * complete frame (both tools decode concatenated frames as one stream), so memory stays bounded.
 * lz4: lz4-napi (lz4_flex, napi-rs binaries from the npm registry); zstd on older Node:
 * @bokuweb/zstd-wasm (libzstd compiled to WebAssembly).
 */
export const CHUNK_BYTES = 1 << 20;

const req = createRequire(import.meta.url);

type Lz4 = { compressFrame(data: Uint8Array): Promise<Buffer>; decompressFrame(data: Uint8Array): Promise<Buffer> };
type ZstdWasm = { init(): Promise<void>; compress(buf: Uint8Array, level?: number): Uint8Array; decompress(buf: Uint8Array): Uint8Array };
type Callback = (err: Error | null, out: Buffer) => void;
type NodeZstd = {
  createZstdCompress?: (opts?: object) => Transform;
  zstdCompress?: (data: Buffer, cb: Callback) => void;
  zstdDecompress?: (data: Buffer, cb: Callback) => void;
};

let lz4: Lz4 | undefined;
let zstdWasm: { mod: ZstdWasm; ready: Promise<void> } | undefined;

/** Node's own zstd stream, when this Node has one. */
function nodeZstd(): ((opts?: object) => Transform) | undefined {
  const f = (zlib as unknown as NodeZstd).createZstdCompress;
  return typeof f === 'function' ? f : undefined;
}

/** Throws (with the reason) when the codec cannot be loaded on this machine; call before opening files. */
export function checkCodec(codec: 'lz4' | 'zstd'): void {
  if (codec === 'lz4') {
    lz4 ??= req('lz4-napi') as Lz4;
  } else if (nodeZstd() === undefined && zstdWasm === undefined) {
    const mod = req('@bokuweb/zstd-wasm') as ZstdWasm;
    const ready = mod.init();
    ready.catch(() => {}); // reported by the first compression
    zstdWasm = { mod, ready };
  }
}

/** A stream turning bytes into lz4 or zstd frames. */
export function createFrameCompressor(codec: 'lz4' | 'zstd'): Transform {
  checkCodec(codec);
  if (codec === 'zstd') {
    const nz = nodeZstd();
    if (nz !== undefined) return nz();
    const z = zstdWasm!;
    return new ChunkCompressor(async (chunk) => {
      await z.ready;
      const out = z.mod.compress(chunk, 3);
      return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    });
  }
  const l = lz4!;
  return new ChunkCompressor((chunk) => l.compressFrame(chunk));
}

/** One whole buffer as one standard frame (the Kafka codecs compress a record batch at a time). */
export async function compressFrame(codec: 'lz4' | 'zstd', data: Buffer): Promise<Buffer> {
  checkCodec(codec);
  if (codec === 'lz4') return lz4!.compressFrame(data);
  const z = zlib as unknown as NodeZstd;
  if (nodeZstd() !== undefined && z.zstdCompress !== undefined) return callback(z.zstdCompress, data);
  await zstdWasm!.ready;
  const out = zstdWasm!.mod.compress(data, 3);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** The inverse of compressFrame (also reads several concatenated frames). */
export async function decompressFrame(codec: 'lz4' | 'zstd', data: Buffer): Promise<Buffer> {
  checkCodec(codec);
  if (codec === 'lz4') return lz4!.decompressFrame(data);
  const z = zlib as unknown as NodeZstd;
  if (nodeZstd() !== undefined && z.zstdDecompress !== undefined) return callback(z.zstdDecompress, data);
  await zstdWasm!.ready;
  const out = zstdWasm!.mod.decompress(data);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function callback(f: (data: Buffer, cb: Callback) => void, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => f(data, (err, out) => (err !== null ? reject(err) : resolve(out))));
}

class ChunkCompressor extends Transform {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly frame: (chunk: Buffer) => Promise<Buffer>) {
    super();
  }

  override _transform(data: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(data);
    this.size += data.length;
    if (this.size < CHUNK_BYTES) return cb();
    this.emitFrame(cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size === 0) return cb();
    this.emitFrame(cb);
  }

  private emitFrame(cb: TransformCallback): void {
    const chunk = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.frame(chunk).then(
      (out) => cb(null, out),
      (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
    );
  }
}
