#!/usr/bin/env node
'use strict';
// deis/s3: an S3 server that keeps buckets and objects on disk, for the compose stack.
//
// s3rver (npm, pinned by package-lock.json) serves S3's REST API from a directory. This
// launcher runs it with what a platform's object store needs and s3rver 3.7.1 lacks:
//
// - One key pair, from the environment only: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY
//   (required: it refuses to start without them). s3rver's built-in pair, S3RVER/S3RVER, is
//   revoked before anything listens.
// - AWS Signature Version 4 checked on every request (signature.js): s3rver itself lets any V4
//   signature, and unsigned requests, through.
// - Writes that a kill cannot tear, keys listed in S3's byte order, CompleteMultipartUpload
//   checking its parts, AbortMultipartUpload and ListMultipartUploads (store.js); creating a
//   bucket that exists answers BucketAlreadyOwnedByYou, as S3 does to its owner.
// - Path-style requests only: s3rver would otherwise take the host name of a request to
//   `http://s3:9000/...` for a bucket named `s3`.
// - SIGTERM and SIGINT stop it cleanly: no new connections, in-flight requests finished (at
//   most S3_SHUTDOWN_TIMEOUT seconds), then exit 0.
//
// Settings (environment):
//   S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY   the key pair (required)
//   S3_BUCKETS           buckets to create at start when missing, comma-separated (none)
//   S3_DIRECTORY         where buckets and objects live (/data: mount a volume there)
//   S3_ADDRESS, S3_PORT  where to listen (0.0.0.0, 9000)
//   S3_QUIET             1 or true: s3rver logs warnings and errors only, no line per request
//   S3_SHUTDOWN_TIMEOUT  seconds that in-flight requests get at a stop (10)

const crypto = require('crypto');
const fsp = require('fs/promises');

const S3rver = require('s3rver');
const AWSAccount = require('s3rver/lib/models/account');
const S3Error = require('s3rver/lib/models/error');

const { signatureV4 } = require('./signature');
const { DurableStore } = require('./store');

const BUILT_IN_KEY = 'S3RVER';
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function say(message) {
  process.stderr.write(`s3: ${message}\n`);
}

function fail(message) {
  say(message);
  process.exit(2);
}

/** The settings from `env`; exits with a message on a missing or invalid one. */
function settings(env) {
  const accessKeyId = env.S3_ACCESS_KEY_ID || '';
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY || '';
  if (!accessKeyId || !secretAccessKey) {
    fail(
      'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must both be set: this server has no ' +
        'default credentials (the compose stack takes them from .env: deisctl compose-env)',
    );
  }
  if (!/^[\x21-\x7e]+$/.test(accessKeyId) || accessKeyId.includes('/')) {
    fail('S3_ACCESS_KEY_ID must be printable ASCII without spaces or "/"');
  }
  if (accessKeyId === BUILT_IN_KEY || secretAccessKey === BUILT_IN_KEY) {
    fail("S3RVER is s3rver's published default, not a credential");
  }
  const buckets = (env.S3_BUCKETS || '')
    .split(',')
    .map(name => name.trim())
    .filter(Boolean);
  for (const name of buckets) {
    if (!BUCKET_NAME.test(name)) fail(`S3_BUCKETS: ${JSON.stringify(name)} is not a bucket name`);
  }
  const port = Number(env.S3_PORT || 9000);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('S3_PORT must be a port number');
  const timeout = Number(env.S3_SHUTDOWN_TIMEOUT || 10);
  if (!(timeout >= 0)) fail('S3_SHUTDOWN_TIMEOUT must be a number of seconds');
  return {
    accessKeyId,
    secretAccessKey,
    buckets,
    directory: env.S3_DIRECTORY || '/data',
    address: env.S3_ADDRESS || '0.0.0.0',
    port,
    quiet: ['1', 'true', 'yes'].includes((env.S3_QUIET || '').toLowerCase()),
    shutdownTimeout: timeout,
  };
}

/** A line per request: method, path and query, status, milliseconds. */
function requestLine(logger) {
  return async function requestLine(ctx, next) {
    const started = process.hrtime.bigint();
    let status;
    try {
      await next();
      status = ctx.status;
    } catch (error) {
      status = error.status || 500;
      throw error;
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('%s %s %d %dms', ctx.method, ctx.originalUrl, status, Math.round(ms));
    }
  };
}

/** One account owns every bucket here: creating an existing one is S3's "already yours". */
async function ownBuckets(ctx, next) {
  try {
    await next();
  } catch (error) {
    if (error.code === 'BucketAlreadyExists') {
      throw new S3Error(
        'BucketAlreadyOwnedByYou',
        'Your previous request to create the named bucket succeeded and you already own it.',
      );
    }
    throw error;
  }
}

/**
 * The multipart operations s3rver lacks: AbortMultipartUpload (DELETE /bucket/key?uploadId=,
 * which it answers with 405) and ListMultipartUploads (GET /bucket?uploads, 501).
 */
function multipartUploads(store) {
  return async function multipartUploads(ctx, next) {
    const [, bucket, ...key] = ctx.path.split('/');
    const aborting = ctx.method === 'DELETE' && key.join('/') !== '' && 'uploadId' in ctx.query;
    const listing = ctx.method === 'GET' && key.join('/') === '' && 'uploads' in ctx.query;
    if (!bucket || !(aborting || listing)) return next();
    if (!(await store.getBucket(bucket))) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', {
        BucketName: bucket,
      });
    }
    if (aborting) {
      await store.abortUpload(bucket, ctx.query.uploadId);
      ctx.status = 204;
      return undefined;
    }
    const prefix = ctx.query.prefix || '';
    const owner = { ID: AWSAccount.DUMMY_ACCOUNT.id, DisplayName: AWSAccount.DUMMY_ACCOUNT.displayName };
    const uploads = await store.listUploads(bucket, prefix);
    ctx.body = {
      ListMultipartUploadsResult: {
        '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
        Bucket: bucket,
        KeyMarker: '',
        UploadIdMarker: '',
        Prefix: prefix,
        MaxUploads: 1000,
        IsTruncated: false,
        Upload: uploads.map(upload => ({
          Key: upload.key,
          UploadId: upload.uploadId,
          Initiator: owner,
          Owner: owner,
          StorageClass: 'STANDARD',
          Initiated: upload.initiated.toISOString(),
        })),
      },
    };
    return undefined;
  };
}

/**
 * s3rver pages ListObjectsV2 with continuation tokens it encrypts with DES, which OpenSSL 3
 * keeps in its legacy provider: without it any listing longer than a page fails with a 500.
 */
function checkDes() {
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8)).final();
  } catch (error) {
    fail(
      `listings longer than a page need DES (${error.code || error.message}): run node with ` +
        '--openssl-legacy-provider',
    );
  }
}

async function main() {
  const config = settings(process.env);
  try {
    await fsp.access(config.directory, fsp.constants.R_OK | fsp.constants.W_OK);
  } catch (error) {
    fail(`cannot write to S3_DIRECTORY ${config.directory}: ${error.code || error.message}`);
  }

  const account = AWSAccount.DUMMY_ACCOUNT;
  account.revokeAccessKey(BUILT_IN_KEY);
  account.createKeyPair(config.accessKeyId, config.secretAccessKey);

  checkDes();
  const server = new S3rver({
    address: config.address,
    port: config.port,
    directory: config.directory,
    vhostBuckets: false,
    allowMismatchedSignatures: false,
    resetOnClose: false,
    configureBuckets: config.buckets.map(name => ({ name, configs: [] })),
  });
  // s3rver's log without its terminal colours (escape codes in `docker logs`), and with a
  // request line of our own: its koa-logger line loses its first 16 characters where there are
  // no colours to cut. Its winston is the one package-lock.json pins, a dependency of s3rver's.
  const { format, transports } = require('winston');
  server.logger.clear().add(
    new transports.Console({
      level: config.quiet ? 'warn' : 'debug',
      format: format.combine(format.splat(), format.simple()),
    }),
  );
  const logger = server.middleware.findIndex(middleware => middleware.name === 'logger');
  if (logger < 0) fail("s3rver's request logger is not where this launcher expects it");
  server.middleware[logger] = requestLine(server.logger);
  const store = new DurableStore(config.directory);
  server.store = server.context.store = store;
  // Koa composes its middleware list when the server starts. The signature is checked ahead of
  // everything s3rver does (its request log included: the health check's anonymous requests are
  // not logged); the rest goes just before s3rver's router, after its XML encoding.
  server.middleware.unshift(
    signatureV4({
      onRefused: (error, ctx) =>
        say(`refused ${ctx.method} ${ctx.path}: ${error.code} (${error.message})`),
    }),
  );
  const router = server.middleware.length - 1;
  if (server.middleware[router].name !== 'dispatch') {
    fail("s3rver's middleware is not laid out as this launcher expects (is s3rver 3.7.1?)");
  }
  server.middleware.splice(router, 0, ownBuckets, multipartUploads(store));

  const swept = await store.sweep();
  if (swept) say(`removed ${swept} partial file(s) left by an interrupted write`);
  const { address, port } = await server.run();
  const buckets = (await store.listBuckets()).map(bucket => bucket.name);
  const named = buckets.slice(0, 5).join(', ') + (buckets.length > 5 ? ', ...' : '');
  say(
    `serving ${config.directory} on ${address}:${port} to the key pair of the environment; ` +
      `${buckets.length} bucket(s)${buckets.length ? `: ${named}` : ''}`,
  );

  let stopping = false;
  const stop = signal => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping (in-flight requests get ${config.shutdownTimeout} s)`);
    server.httpServer.close(() => {
      say('stopped');
      process.exit(0);
    });
    // Keep-alive connections go as soon as they are idle (node 18 leaves them open).
    server.httpServer.closeIdleConnections();
    setInterval(() => server.httpServer.closeIdleConnections(), 100).unref();
    setTimeout(() => {
      say('requests still running at the deadline: exiting anyway');
      process.exit(0);
    }, config.shutdownTimeout * 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch(error => {
  say(`cannot start: ${error.stack || error}`);
  process.exit(1);
});
