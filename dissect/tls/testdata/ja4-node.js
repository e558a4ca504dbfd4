// Reads "frame<TAB>hex of the TCP payload that starts with the ClientHello
// record" lines on stdin and prints "frame<TAB>ja3 hash<TAB>ja4" computed by
// read-tls-client-hello (an independent JavaScript implementation). Used
// only by gen-expect.sh; see there.
'use strict';
const { PassThrough } = require('node:stream');
const readline = require('node:readline');
const { readTlsClientHello, calculateJa3, calculateJa4 } = require('read-tls-client-hello');

(async () => {
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
        if (!line.trim()) continue;
        const [frame, hex] = line.split('\t');
        const hello = await readTlsClientHello(new PassThrough().end(Buffer.from(hex, 'hex')));
        console.log(`${frame}\t${calculateJa3(hello)}\t${calculateJa4(hello)}`);
    }
})().catch((e) => { console.error(e); process.exit(1); });
