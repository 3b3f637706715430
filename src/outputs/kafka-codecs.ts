import kafkajs from 'kafkajs';
import { checkCodec, compressFrame, decompressFrame } from './frame-compress.js';

/**
 * LZ4 and ZSTD for the Kafka output. kafkajs ships only gzip and lets an application register the
 * others; a record batch is compressed whole, as one standard frame (LZ4 frame format per KIP-57,
 * zstd frame), which is what brokers and librdkafka consumers read. The compressors are the ones
 * the file output already uses (frame-compress.ts). Snappy would need another native dependency
 * and is not offered.
 */
const { CompressionCodecs, CompressionTypes } = kafkajs;

interface Encoder {
  buffer: Buffer;
}

let registered = false;

/** Registers the codecs once; throws with the reason when a codec cannot load on this machine. */
export function registerKafkaCodecs(codec: 'lz4' | 'zstd'): void {
  checkCodec(codec);
  if (registered) return;
  registered = true;
  const make = (c: 'lz4' | 'zstd') => () => ({
    compress: (encoder: Encoder) => compressFrame(c, encoder.buffer),
    decompress: (buffer: Buffer) => decompressFrame(c, buffer),
  });
  CompressionCodecs[CompressionTypes.LZ4] = make('lz4');
  CompressionCodecs[CompressionTypes.ZSTD] = make('zstd');
}
