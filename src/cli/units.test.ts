import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, createdSince, formatG, humanDuration, humanSize, humanSizeWithPrecision } from './units.js';

test('HumanSizeWithPrecision(…, 3) as docker images', () => {
  assert.equal(humanSizeWithPrecision(1985472, 3), '1.99MB');
  assert.equal(humanSizeWithPrecision(1982347, 3), '1.98MB');
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(999, 3), '999B');
  assert.equal(humanSizeWithPrecision(1000, 3), '1kB');
  assert.equal(humanSizeWithPrecision(3220, 3), '3.22kB');
  assert.equal(humanSizeWithPrecision(2_000_000, 3), '2MB');
  assert.equal(humanSizeWithPrecision(999_600, 3), '1e+03kB');
  assert.equal(humanSizeWithPrecision(123_456_789_012, 3), '123GB');
});

test('HumanSize (4 digits) and BytesSize', () => {
  assert.equal(humanSize(1985472), '1.985MB');
  assert.equal(humanSize(36352), '36.35kB');
  assert.equal(humanSize(107), '107B');
  assert.equal(bytesSize(25276116992), '23.54GiB');
  assert.equal(bytesSize(405504), '396KiB');
});

test('formatG mirrors Go %g', () => {
  assert.equal(formatG(1.5, 3), '1.5');
  assert.equal(formatG(2, 3), '2');
  assert.equal(formatG(0.0001234, 3), '0.000123');
  assert.equal(formatG(0.00001234, 3), '1.23e-05');
});

test('HumanDuration', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(45_000), '45 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(2 * 60_000), '2 minutes');
  assert.equal(humanDuration(59 * 60_000), '59 minutes');
  assert.equal(humanDuration(60 * 60_000), 'About an hour');
  assert.equal(humanDuration(3 * 3600_000), '3 hours');
  assert.equal(humanDuration(47 * 3600_000), '47 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
  assert.equal(humanDuration(20 * 86400_000), '2 weeks');
  assert.equal(humanDuration(90 * 86400_000), '3 months');
  assert.equal(humanDuration(800 * 86400_000), '2 years');
  assert.equal(createdSince(1000, 1000_000 + 120_000), '2 minutes ago');
});
