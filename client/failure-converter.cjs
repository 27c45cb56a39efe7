/* global require, exports */
// The failure converter of every client, worker and workflow sandbox of inviteflow while payload
// encryption is on: a failure's message and stack trace move into its encoded attributes, a
// payload the codec encrypts, so a mail server's refusal quoting an address never sits in clear
// in a history. CommonJS on purpose: the SDK `require()`s it by path (`failureConverterPath`) in
// every process, tests included, and bundles it into the workflow sandbox.
'use strict';
// eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS, see above
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
