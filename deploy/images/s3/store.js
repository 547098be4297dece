'use strict';
// s3rver's filesystem store, made safe to kill and correct in what the platform relies on.
//
// s3rver 3.7.1 writes an object straight to its final file and answers the PUT before its
// write stream has flushed: a container killed then (or while a part is written) keeps a torn
// object, and a truncated metadata file makes the object unreadable for good. It lists keys in
// directory order (`slugs/app/...` before `slugs/app-2/...`) where S3 lists in byte order,
// so a listing page that ends in the wrong place skips keys. And a CompleteMultipartUpload
// naming a missing part never answers. This subclass changes exactly these methods:
//
// - putObject, putPart, putMetadata write into a temporary file in the bucket's upload area
//   (`<bucket>/._S3rver_uploads/.partial/`, the same filesystem, never listed), fsync it and
//   rename it into place, so each file is either the old one or the new one, whole. Object and
//   part bodies are checked against the SHA-256 the request signed (signature.js).
// - putObjectMultipart checks every part (present, and the ETag the client gives) before it
//   joins them, through putObject (the object's ETag is S3's `<md5 of the parts' md5s>-<n>`).
// - abortUpload and listUploads are AbortMultipartUpload and ListMultipartUploads, which
//   s3rver lacks (serve.js routes them here).
// - listObjects walks the prefix's directory, sorts the keys by their UTF-8 bytes and pages
//   from `startAfter`, as S3 does.
// - sweep() removes what a kill left in the temporary areas, at start.
//
// Everything else (reads, deletes, buckets, the file layout) is s3rver's, so a /data written by
// plain s3rver reads the same.

const crypto = require('crypto');
const fs = require('fs');
const fsp = require('fs/promises');
const path = require('path');
const { Readable, Transform } = require('stream');
const { pipeline } = require('stream/promises');

// s3rver's own modules, and lodash as s3rver has it: package-lock.json pins them all.
const FilesystemStore = require('s3rver/lib/stores/filesystem');
const S3Error = require('s3rver/lib/models/error');
const S3Object = require('s3rver/lib/models/object');
const { pick, pickBy } = require('lodash');

const { EXPECTED_SHA256, mismatch } = require('./signature');

const OBJECT_SUFFIX = '._S3rver_object';
const UPLOADS = '._S3rver_uploads';
const PARTIAL = '.partial';

function byteOrder(a, b) {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** fsync(2) of a file or a directory, through a descriptor of its own. */
async function fsyncPath(file) {
  const handle = await fsp.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

class DurableStore extends FilesystemStore {
  /** The temporary area of `bucket`: beside its objects, on the same filesystem. */
  partialDir(bucket) {
    return path.join(this.getResourcePath(bucket, undefined, 'uploads'), PARTIAL);
  }

  /**
   * Writes `source` (a stream or a Buffer) to `target` atomically; returns its size and MD5.
   * When `expectedSha256` is given, the bytes must have it or nothing is written.
   */
  async writeAtomically(bucket, target, source, expectedSha256 = null) {
    const partial = this.partialDir(bucket);
    await fsp.mkdir(partial, { recursive: true });
    const temp = path.join(partial, crypto.randomBytes(12).toString('hex'));
    const md5 = crypto.createHash('md5');
    const sha256 = expectedSha256 ? crypto.createHash('sha256') : null;
    let size = 0;
    try {
      await pipeline(
        Buffer.isBuffer(source) ? Readable.from([source], { objectMode: false }) : source,
        new Transform({
          transform(chunk, encoding, callback) {
            md5.update(chunk);
            if (sha256) sha256.update(chunk);
            size += chunk.length;
            callback(null, chunk);
          },
        }),
        fs.createWriteStream(temp, { flags: 'wx', mode: 0o600 }),
      );
      if (sha256 && sha256.digest('hex') !== expectedSha256) throw mismatch();
      await fsyncPath(temp);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.rename(temp, target);
    } catch (error) {
      await fsp.rm(temp, { force: true });
      throw error;
    }
    // The rename itself survives a crash of the host only once its directory is synced.
    await fsyncPath(path.dirname(target)).catch(() => {});
    return { size, md5: md5.digest('hex') };
  }

  async putObject(object) {
    const target = this.getResourcePath(object.bucket, object.key, 'object');
    const expected = object.content ? object.content[EXPECTED_SHA256] : null;
    const { size, md5 } = await this.writeAtomically(
      object.bucket,
      target,
      object.content,
      expected,
    );
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  }

  async putMetadata(bucket, key, metadata, md5) {
    const json = {
      ...pick(metadata, S3Object.ALLOWED_METADATA),
      ...pickBy(metadata, (value, name) => name.startsWith('x-amz-meta-')),
    };
    if (md5) {
      await this.writeAtomically(
        bucket,
        this.getResourcePath(bucket, key, 'object.md5'),
        Buffer.from(md5),
      );
    }
    await this.writeAtomically(
      bucket,
      this.getResourcePath(bucket, key, 'metadata.json'),
      Buffer.from(JSON.stringify(json, null, 2)),
    );
  }

  partPath(bucket, uploadId, partNumber) {
    if (!/^[0-9a-f]+$/i.test(String(uploadId)) || !/^\d{1,5}$/.test(String(partNumber))) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    }
    return path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      String(uploadId),
      String(Number(partNumber)),
    );
  }

  async putPart(bucket, uploadId, partNumber, content) {
    const target = this.partPath(bucket, uploadId, partNumber);
    try {
      await fsp.access(path.join(path.dirname(target), 'key'));
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    }
    const { size, md5 } = await this.writeAtomically(
      bucket,
      target,
      content,
      content ? content[EXPECTED_SHA256] : null,
    );
    await this.writeAtomically(bucket, `${target}.md5`, Buffer.from(md5));
    return { size, md5 };
  }

  async putObjectMultipart(bucket, uploadId, parts) {
    const uploadDir = path.dirname(this.partPath(bucket, uploadId, 1));
    let key, metadata;
    try {
      key = (await fsp.readFile(path.join(uploadDir, 'key'))).toString();
      metadata = JSON.parse(await fsp.readFile(path.join(uploadDir, 'metadata')));
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    }
    const numbers = parts.map(part => part.number);
    if (numbers.some((n, i) => !Number.isInteger(n) || (i > 0 && n <= numbers[i - 1]))) {
      throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order.');
    }
    const files = [];
    const digests = crypto.createHash('md5');
    for (const part of parts) {
      const file = this.partPath(bucket, uploadId, part.number);
      const md5 = await fsp.readFile(`${file}.md5`, 'utf8').catch(() => null);
      if (md5 === null || md5 !== part.etag) {
        throw new S3Error(
          'InvalidPart',
          'One or more of the specified parts could not be found, or its entity tag did not ' +
            "match the part's.",
        );
      }
      files.push(file);
      digests.update(Buffer.from(md5, 'hex'));
    }
    async function* joined() {
      for (const file of files) yield* fs.createReadStream(file);
    }
    const target = this.getResourcePath(bucket, key, 'object');
    const { size } = await this.writeAtomically(bucket, target, Readable.from(joined()));
    // S3's entity tag of a multipart object: the MD5 of the parts' MD5s, and their count.
    const etag = `${digests.digest('hex')}-${files.length}`;
    await this.putMetadata(bucket, key, new S3Object(bucket, key, null, metadata).metadata, etag);
    await fsp.rm(uploadDir, { recursive: true, force: true });
    return { size, md5: etag };
  }

  /** AbortMultipartUpload, which s3rver lacks: the upload's parts are removed. */
  async abortUpload(bucket, uploadId) {
    const uploadDir = path.dirname(this.partPath(bucket, uploadId, 1));
    try {
      await fsp.access(path.join(uploadDir, 'key'));
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    }
    await fsp.rm(uploadDir, { recursive: true, force: true });
  }

  /** ListMultipartUploads, which s3rver lacks: the uploads begun and not yet completed. */
  async listUploads(bucket, prefix = '') {
    const uploadsDir = this.getResourcePath(bucket, undefined, 'uploads');
    const uploads = [];
    for (const uploadId of await fsp.readdir(uploadsDir).catch(() => [])) {
      if (uploadId === PARTIAL) continue;
      const keyFile = path.join(uploadsDir, uploadId, 'key');
      const key = await fsp.readFile(keyFile, 'utf8').catch(() => null);
      if (key === null || !key.startsWith(prefix)) continue;
      const { birthtime, mtime } = await fsp.stat(keyFile);
      uploads.push({ key, uploadId, initiated: birthtime.getTime() ? birthtime : mtime });
    }
    return uploads.sort((a, b) => byteOrder(a.key, b.key) || byteOrder(a.uploadId, b.uploadId));
  }

  async listObjects(bucket, options) {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
    const bucketPath = this.getBucketPath(bucket);
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
    const found = [];
    const walk = async (dir, keyPrefix) => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return;
        throw error;
      }
      for (const entry of entries) {
        if (entry.isDirectory()) {
          if (!(keyPrefix === '' && entry.name === UPLOADS)) {
            await walk(path.join(dir, entry.name), `${keyPrefix}${entry.name}/`);
          }
        } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
          found.push(keyPrefix + entry.name.slice(0, -OBJECT_SUFFIX.length));
        }
      }
    };
    await walk(path.join(bucketPath, ...folder.split('/').filter(Boolean)), folder);

    const commonPrefixes = new Set();
    const keys = [];
    let isTruncated = false;
    for (const key of found.sort(byteOrder)) {
      if (!key.startsWith(prefix) || byteOrder(key, startAfter) <= 0) continue;
      if (delimiter) {
        const index = key.indexOf(delimiter, prefix.length);
        if (index !== -1) {
          commonPrefixes.add(key.slice(0, index + delimiter.length));
          continue;
        }
      }
      if (keys.length >= maxKeys) {
        isTruncated = true;
        break;
      }
      keys.push(key);
    }
    const objects = await Promise.all(
      keys.map(async key => {
        try {
          return new S3Object(bucket, key, null, await this.getMetadata(bucket, key));
        } catch (error) {
          if (error.code === 'ENOENT') return null; // deleted while listed
          throw error;
        }
      }),
    );
    return {
      objects: objects.filter(Boolean),
      commonPrefixes: [...commonPrefixes].sort(byteOrder),
      isTruncated,
    };
  }

  /** Removes the temporary files a killed server left behind; returns how many. */
  async sweep() {
    let removed = 0;
    for (const bucket of await fsp.readdir(this.rootDirectory)) {
      const partial = this.partialDir(bucket);
      const names = await fsp.readdir(partial).catch(() => []);
      for (const name of names) {
        await fsp.rm(path.join(partial, name), { force: true });
        removed += 1;
      }
    }
    return removed;
  }
}

module.exports = { DurableStore };
