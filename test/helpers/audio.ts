/**
 * Audio for media tests: a WAV tone to use as chromium's fake microphone,
 * G.711 A-law (ITU-T G.711) both ways, and the level and strength of one
 * frequency of a block of samples (Goertzel), to tell a tone from silence.
 */
import { writeFileSync } from 'node:fs';

/** Writes a mono 16-bit PCM WAV of a sine at `freq` Hz. */
export function writeToneWav(file: string, freq: number, seconds = 2, rate = 48000, amplitude = 12000): void {
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++)
    buf.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate)), 44 + i * 2);
  writeFileSync(file, buf);
}

export function alawDecode(a0: number): number {
  const a = a0 ^ 0x55;
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  t += 8;
  if (seg !== 0) t += 0x100;
  if (seg > 1) t <<= seg - 1;
  return a & 0x80 ? t : -t;
}

export function alawEncode(pcm: number): number {
  let mask: number;
  let v = pcm;
  if (v >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    v = -v - 1;
  }
  const ends = [0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff];
  let seg = ends.findIndex((e) => v <= e);
  if (seg < 0) seg = 8;
  if (seg >= 8) return 0x7f ^ mask;
  const aval = seg << 4;
  return (aval | (seg < 2 ? (v >> 4) & 0x0f : (v >> (seg + 3)) & 0x0f)) ^ mask;
}

/** 20 ms of A-law (160 samples at 8 kHz) of a sine at `freq`, starting at sample `from`. */
export function alawTone(freq: number, from: number, amplitude = 8000): Buffer {
  const out = Buffer.alloc(160);
  for (let i = 0; i < 160; i++)
    out[i] = alawEncode(Math.round(amplitude * Math.sin((2 * Math.PI * freq * (from + i)) / 8000)));
  return out;
}

/** RMS of the samples and the share of their energy at `freq` (Goertzel; 1 = a pure tone at freq). */
export function toneFigures(samples: readonly number[], freq: number, rate = 8000): { rms: number; share: number } {
  const n = samples.length;
  if (n === 0) return { rms: 0, share: 0 };
  let energy = 0;
  for (const s of samples) energy += s * s;
  const k = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(k);
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  // A pure sine of n samples gives power = energy * n / 2.
  return { rms: Math.sqrt(energy / n), share: energy === 0 ? 0 : power / ((energy * n) / 2) };
}
