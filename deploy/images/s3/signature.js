'use strict';
// AWS Signature Version 4, checked on every request before s3rver sees it.
//
// s3rver 3.7.1 verifies only the old V2 signatures: a V4 request (what every current SDK,
// botocore included, sends) is let through whatever its signature, on the access key id alone,
// and a request without any signature is served too. So this middleware refuses, with S3's own
// error codes, every request that is not signed with AWS4-HMAC-SHA256 in its Authorization
// header by a key pair of s3rver's registry (the one serve.js registers):
//
//   no signature at all           403 AccessDenied
//   V2, presigned query strings   403 AccessDenied (this server takes V4 headers only)
//   unknown access key id         403 InvalidAccessKeyId
//   wrong secret, altered request 403 SignatureDoesNotMatch
//   x-amz-date 15 min off         403 RequestTimeTooSkewed
//   aws-chunked bodies            501 NotImplemented (s3rver would store the chunk framing)
//   body not what was signed      400 XAmzContentSHA256Mismatch
//
// The signature covers the body through its SHA-256 (x-amz-content-sha256, itself signed).
// Small bodies (the XML of DeleteObjects, CompleteMultipartUpload, ...) are read here, checked
// and handed on; the bodies of PutObject and UploadPart are streamed to disk by store.js, which
// checks the digest this middleware attaches (EXPECTED_SHA256) before the object is kept.
// UNSIGNED-PAYLOAD is accepted, as S3 does: the headers are still signed.

const crypto = require('crypto');
const { Readable } = require('stream');

const S3Error = require('s3rver/lib/models/error');
const AWSAccount = require('s3rver/lib/models/account');

const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = crypto.createHash('sha256').digest('hex');
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const MAX_SKEW_MS = 15 * 60 * 1000;
/** Largest body read into memory: DeleteObjects of 1000 long keys is about 1 MiB. */
const MAX_BUFFERED_BODY = 8 * 1024 * 1024;
/** Query parameters of PutObject and UploadPart, whose bodies are streamed to store.js. */
const UPLOAD_QUERY = new Set(['uploadId', 'partNumber', 'x-id']);
/** Set on the request stream for store.js: the SHA-256 its bytes must have. */
const EXPECTED_SHA256 = Symbol('deis.expectedSha256');

function s3Error(code, message, status) {
  const error = new S3Error(code, message);
  if (status !== undefined) {
    error.status = status;
    error.expose = status < 500;
  }
  return error;
}

function accessDenied(message) {
  return s3Error('AccessDenied', message, 403);
}

function malformed(message) {
  return s3Error('AuthorizationHeaderMalformed', message, 400);
}

function mismatch() {
  return s3Error(
    'XAmzContentSHA256Mismatch',
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
    400,
  );
}

/** encodeURIComponent plus the characters RFC 3986 reserves and it leaves alone. */
function uriEncode(text) {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    ch => '%' + ch.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function uriDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    throw s3Error('InvalidURI', "Couldn't parse the specified URI.", 400);
  }
}

/** The path as SigV4 for S3 signs it: each segment percent-encoded once, as sent. */
function canonicalUri(rawPath) {
  return rawPath
    .split('/')
    .map(segment => uriEncode(uriDecode(segment)))
    .join('/');
}

function canonicalQuery(rawQuery) {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(pair => pair !== '')
    .map(pair => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      const value = equals < 0 ? '' : pair.slice(equals + 1);
      return [uriEncode(uriDecode(name)), uriEncode(uriDecode(value))];
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** Every value of each header, by lower-case name, from the raw headers (repeats kept). */
function headerValues(rawHeaders) {
  const values = new Map();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (!values.has(name)) values.set(name, []);
    values.get(name).push(rawHeaders[i + 1]);
  }
  return values;
}

function parseAuthorization(header) {
  if (!header.startsWith(`${ALGORITHM} `)) {
    throw accessDenied(
      'Only AWS Signature Version 4 (AWS4-HMAC-SHA256) in the Authorization header is accepted',
    );
  }
  const fields = new Map();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const equals = part.indexOf('=');
    if (equals < 0) throw malformed('The authorization header is malformed.');
    fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (fields.size !== 3 || !credential || !signedHeaders || !signature) {
    throw malformed(
      'The authorization header requires three components: Credential, SignedHeaders and ' +
        'Signature.',
    );
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[3] !== 's3' || scope[4] !== 'aws4_request') {
    throw malformed(
      'The credential must be <access key id>/<yyyymmdd>/<region>/s3/aws4_request.',
    );
  }
  const [accessKeyId, date, region] = scope;
  if (!/^[0-9a-f]{64}$/.test(signature)) {
    throw malformed('The signature must be 64 lower-case hexadecimal digits.');
  }
  return {
    accessKeyId,
    date,
    region,
    signedHeaders: signedHeaders.split(';'),
    signature,
    scope: scope.slice(1).join('/'),
  };
}

/** x-amz-date (yyyymmddThhmmssZ) as a Date, or null. */
function parseAmzDate(text) {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text || '');
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

/** The hex signature of `stringToSign` with `secret` for the scope `date/region/s3`. */
function sign(secret, { date, region }, stringToSign) {
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
  return crypto
    .createHmac('sha256', key)
    .update(stringToSign, 'utf8')
    .digest('hex');
}

/**
 * Checks the request's signature; throws the S3Error to answer with, or returns the
 * x-amz-content-sha256 it signed.
 */
function verify(req, now = Date.now()) {
  const values = headerValues(req.rawHeaders);
  const [rawPath, rawQuery = ''] = req.url.split(/\?(.*)/s);
  const query = new URLSearchParams(rawQuery);
  if (query.has('X-Amz-Algorithm') || query.has('Signature') || query.has('AWSAccessKeyId')) {
    throw accessDenied('Presigned URLs are not accepted: sign the Authorization header');
  }
  const authorization = values.get('authorization');
  if (!authorization) throw accessDenied('Anonymous requests are not accepted');
  if (authorization.length !== 1) throw malformed('More than one Authorization header');
  const auth = parseAuthorization(authorization[0]);

  const signed = new Set(auth.signedHeaders);
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signed.has(required)) throw accessDenied(`The ${required} header must be signed`);
  }
  for (const name of values.keys()) {
    if (name.startsWith('x-amz-') && !signed.has(name)) {
      throw accessDenied(`There were headers present in the request which were not signed: ${name}`);
    }
  }
  for (const name of auth.signedHeaders) {
    if (!values.has(name)) throw malformed(`The signed header ${name} is missing`);
  }

  const amzDate = values.get('x-amz-date')[0];
  const requestTime = parseAmzDate(amzDate);
  if (requestTime === null || amzDate.slice(0, 8) !== auth.date) {
    throw accessDenied('x-amz-date must be yyyymmddThhmmssZ, on the date of the credential');
  }
  if (Math.abs(now - requestTime.getTime()) > MAX_SKEW_MS) {
    throw s3Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      403,
    );
  }

  const payload = values.get('x-amz-content-sha256')[0];
  const payloadHash = payload.toLowerCase();
  const encodings = (values.get('content-encoding') || []).join(',');
  if (payload.startsWith('STREAMING-') || /aws-chunked/i.test(encodings)) {
    throw s3Error(
      'NotImplemented',
      'aws-chunked bodies are not supported by this server: sign the payload, or send ' +
        'UNSIGNED-PAYLOAD',
      501,
    );
  }
  if (payload !== UNSIGNED_PAYLOAD && !/^[0-9a-f]{64}$/.test(payloadHash)) {
    throw s3Error(
      'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 in hexadecimal',
      400,
    );
  }

  const canonicalRequest = [
    req.method,
    canonicalUri(rawPath),
    canonicalQuery(rawQuery),
    ...auth.signedHeaders.map(
      name =>
        `${name}:${values
          .get(name)
          .map(value => value.trim().replace(/\s+/g, ' '))
          .join(',')}`,
    ),
    '',
    auth.signedHeaders.join(';'),
    payload,
  ].join('\n');
  const stringToSign = [
    ALGORITHM,
    amzDate,
    auth.scope,
    crypto.createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');

  const account = AWSAccount.registry.get(auth.accessKeyId);
  const secret = account && account.accessKeys.get(auth.accessKeyId);
  if (secret === undefined) {
    throw s3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      403,
    );
  }
  const expected = Buffer.from(sign(secret, auth, stringToSign), 'hex');
  const given = Buffer.from(auth.signature, 'hex');
  if (!crypto.timingSafeEqual(expected, given)) {
    throw s3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. ' +
        'Check your key and signing method.',
      403,
    );
  }
  return payload === UNSIGNED_PAYLOAD ? null : payloadHash;
}

/** Whether s3rver streams this request's body into the store (PutObject, UploadPart). */
function isUpload(ctx) {
  const [, bucket, ...key] = ctx.path.split('/');
  return (
    ctx.method === 'PUT' &&
    Boolean(bucket) &&
    key.join('/') !== '' &&
    Object.keys(ctx.query).every(name => UPLOAD_QUERY.has(name))
  );
}

function hasBody(req) {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BUFFERED_BODY) {
      throw s3Error(
        'MaxMessageLengthExceeded',
        'Your request was too big.',
        400,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The Koa middleware: verifies, then hands the request on with a body that matches what was
 * signed. `onRefused(error, ctx)` is told of signed requests that are refused (not of
 * anonymous ones, such as the health check's).
 */
function signatureV4({ onRefused = () => {} } = {}) {
  return async function signatureV4(ctx, next) {
    let payloadHash;
    try {
      payloadHash = verify(ctx.req);
    } catch (error) {
      if (ctx.req.headers.authorization !== undefined) onRefused(error, ctx);
      throw error;
    }
    if (isUpload(ctx)) {
      ctx.req[EXPECTED_SHA256] = payloadHash;
    } else if (hasBody(ctx.req)) {
      const body = await readBody(ctx.req);
      if (payloadHash !== null) {
        const digest = crypto.createHash('sha256').update(body).digest('hex');
        if (digest !== payloadHash) throw mismatch();
      }
      // s3rver reads bodies from ctx.req (headers come from ctx.request.req, left alone).
      ctx.req = Readable.from([body], { objectMode: false });
    } else if (payloadHash !== null && payloadHash !== EMPTY_SHA256) {
      throw mismatch();
    }
    return next();
  };
}

module.exports = { EXPECTED_SHA256, mismatch, signatureV4, verify, canonicalQuery, canonicalUri };
