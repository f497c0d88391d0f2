// A polkadot.js client with no custom types or RPC definitions: connect,
// register an identity through api.tx.deltaIdentity, read it back through
// storage and the runtime API, and print what it saw as JSON.
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';

const [url, peerIdHex] = process.argv.slice(2);
const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true });
const dave = new Keyring({ type: 'sr25519' }).addFromUri('//Dave');

const outcome = await new Promise((resolve, reject) => {
  api.tx.deltaIdentity
    .register('Lab D (polkadot.js)', '/ip4/127.0.0.1/tcp/4004', peerIdHex)
    .signAndSend(dave, ({ status, dispatchError, events }) => {
      // The dev chain finalises at once, so a client may see Finalized
      // without an InBlock before it.
      if (!status.isInBlock && !status.isFinalized) return;
      if (dispatchError) {
        const { section, name } = api.registry.findMetaError(dispatchError.asModule);
        resolve({ ok: false, error: `${section}.${name}` });
      } else {
        resolve({ ok: true, events: events.map(({ event }) => `${event.section}.${event.method}`) });
      }
    })
    .catch(reject);
});

const stored = (await api.query.deltaIdentity.members(dave.address)).toJSON();
const listed = (await api.call.deltaIdentityApi.members()).toJSON();
const metadataVersions = (await api.call.metadata.metadataVersions()).toJSON();
console.log(JSON.stringify({ outcome, address: dave.address, stored, listed, metadataVersions }));
await api.disconnect();
