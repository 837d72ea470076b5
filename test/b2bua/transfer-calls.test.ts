/**
 * Call transfer through the B2BUA with real SIPp peers on every leg (UDP),
 * with the built-in media relay and with rtpengine side by side (one
 * Trunkline each, test/b2bua/transfer-rig.ts): a REFER refused by policy
 * (403, the call goes on), relayed to the carrier (its NOTIFY back to the
 * PBX), and performed by Trunkline (a new leg to a second carrier, NOTIFY
 * 100 then 200 to the PBX, the transferee re-INVITEd with the new leg's SDP
 * through the media engine, the PBX hung up, two CDRs); a performed
 * transfer whose target is busy (NOTIFY 486, the call goes on); an INVITE
 * with Replaces taking over the PBX's leg, and Replaces naming no dialog of
 * ours (481) or sent by a trunk whose policy refuses transfers (403);
 * attended transfers (Replaces in the Refer-To naming the PBX's other call
 * through Trunkline) performed (the consulted party joins the transferee)
 * and relayed (the transferee's INVITE with Replaces takes over the
 * consulted call). Every call of both engines runs side by side.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveCommand } from '../helpers/sipp.js';
import { waitFor } from '../helpers/wait.js';
import { MEDIA_CHOICES, type MediaChoice } from './media-rigs.js';
import { DID, extraOf, re, read, TransferRig } from './transfer-rig.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const logs = mkdtempSync(join(tmpdir(), 'sipp-xfer-'));

after(() => rmSync(logs, { recursive: true, force: true }));

describe('call transfer with SIPp on every leg', { concurrency: true, skip }, () => {
  for (const media of MEDIA_CHOICES) transferCalls(media);
});

function transferCalls(media: MediaChoice): void {
  // Every call of both engines side by side (each test its own carriers and numbers).
  describe(media.label, { concurrency: true, skip: media.skip }, () => {
    let x: TransferRig;
    before(async () => {
      if (skip !== false || media.skip !== false) return;
      x = await TransferRig.start(media, logs);
    });
    after(async () => {
      if (skip !== false || media.skip !== false) return;
      assert.equal(await x.rig.stop(), 0);
    });
    test('REFER refused by policy: 403, and the call goes on to its BYE', async () => {
      const dialled = '+15551000001';
      const far = await x.carrier('xfer-carrier-plain.xml', 'c-refuse');
      const near = await x.pbxCall('xfer-pbx-refused.xml', x.pbx.refuse, dialled, {
        caller: DID.refuse,
        target: '+15559990001',
      });
      x.passes(near, 'the PBX');
      await x.done(far, 'the carrier (it must see no REFER)');
      const cdr = await x.rig.cdrTo(dialled);
      assert.equal(cdr.status, 200);
      assert.equal(cdr.reason, 'Normal Clearing');
      assert.equal(cdr.hangupBy, 'caller');
      assert.equal(extraOf(cdr)['transfers'], undefined);
    });

    test('REFER relayed: the carrier gets it as the PBX wrote it, its NOTIFY comes back', async () => {
      const dialled = '+15552000001';
      const target = '+15559990002';
      const far = await x.carrier('xfer-carrier-refer.xml', 'c-relay', { target: re(target) });
      const near = await x.pbxCall('xfer-pbx-relay.xml', x.pbx.relay, dialled, { caller: DID.relay, target });
      x.passes(near, 'the PBX');
      await x.done(far, 'the carrier');
      const cdr = await x.rig.cdrTo(dialled);
      assert.equal(cdr.status, 200);
      assert.equal(cdr.reason, 'Normal Clearing');
    });

    test('REFER performed: new leg to a second carrier, transferee re-INVITEd, PBX told and hung up, two CDRs', async () => {
      const dialled = '+15553000001';
      const target = '+16663000001';
      const transferee = await x.carrier('xfer-carrier-transferee.xml', 'c-transferee', {
        leak: re(x.targetHost),
        hold: '800',
      });
      const callee = await x.carrier('xfer-carrier-target.xml', 'c-target', {
        caller: re(DID.perform),
        leak: re(x.carrierHost),
      });
      const near = await x.pbxCall('xfer-pbx-perform.xml', x.pbx.perform, dialled, { caller: DID.perform, target });
      x.passes(near, 'the PBX (referrer)');
      await x.done(transferee, 'the transferee');
      await x.done(callee, 'the transfer target');

      const original = await x.rig.cdrTo(dialled);
      const leg = await x.rig.cdrTo(target);
      assert.equal(original.status, 200);
      assert.equal(original.reason, `Transferred to ${target}`);
      assert.equal(original.carrier, 'c-transferee');
      const transfers = extraOf(original)['transfers'] as Array<Record<string, unknown>>;
      assert.equal(transfers.length, 1);
      assert.equal(transfers[0]!['to'], target);
      assert.equal(transfers[0]!['carrier'], 'c-target');
      assert.equal(transfers[0]!['by'], 'caller');
      assert.equal(transfers[0]!['callSid'], leg.callSid);
      assert.ok(extraOf(original)['media'] !== undefined, 'the media figures stay in the CDR');

      assert.equal(leg.status, 200);
      assert.equal(leg.carrier, 'c-target');
      assert.equal(leg.direction, 'outbound');
      assert.equal(leg.trunk, 'pbx');
      assert.equal(leg.from, DID.perform, "the new leg's caller ID is the referrer's");
      assert.equal(leg.reason, 'Normal Clearing');
      assert.equal(leg.hangupBy, 'caller', 'the transferee (the caller of the new leg) hung up');
      assert.ok(leg.answerAt !== null);
      assert.equal(extraOf(leg)['transferOf'], original.callSid);
      assert.equal(original.endAt, leg.endAt, 'both end with the conversation');
      // The transferee's re-INVITE carried the relay's address, not the target's (SIPp checked); and the message logs agree.
      assert.doesNotMatch(read(callee.log), /pbx\.internal/);
    });

    test('performed transfer to a busy target: NOTIFY 486, and the call goes on', async () => {
      const dialled = '+15554000001';
      const target = '+16664000001';
      const stay = await x.carrier('xfer-carrier-plain.xml', 'c-stay');
      const busy = await x.carrier('xfer-carrier-busy.xml', 'c-busy');
      const near = await x.pbxCall('xfer-pbx-perform-fails.xml', x.pbx.perform, dialled, {
        caller: DID.perform,
        target,
        final: '486',
      });
      x.passes(near, 'the PBX (referrer)');
      await x.done(stay, 'the carrier that stays (no re-INVITE)');
      await x.done(busy, 'the busy target');

      const original = await x.rig.cdrTo(dialled);
      assert.equal(original.status, 200);
      assert.equal(original.reason, 'Normal Clearing');
      assert.equal(original.hangupBy, 'caller');
      assert.equal(extraOf(original)['transfers'], undefined);
      const leg = await x.rig.cdrTo(target);
      assert.equal(leg.status, 486);
      assert.equal(leg.carrier, 'c-busy');
      assert.equal(leg.answerAt, null);
      assert.equal(extraOf(leg)['transferOf'], original.callSid);
    });

    test('INVITE with Replaces takes over the PBX leg: the other party re-INVITEd, the old leg BYEd', async () => {
      const dialled = '+15555000001';
      const stays = await x.carrier('xfer-carrier-stays.xml', 'c-replace', { leak: re(x.pbx.perform) });
      const dialogFile = join(logs, `${media.net}-replaced-dialog.txt`);
      const phone1 = x.pbxCall('xfer-pbx-replaced.xml', x.pbx.perform, dialled, {
        caller: DID.perform,
        dialogfile: dialogFile,
      });
      const { callId, fromTag, toTag } = await x.dialogWritten(dialogFile, phone1);
      const phone2 = await x.pbxCall('xfer-pbx-replacing.xml', x.pbx.perform, dialled, {
        caller: DID.perform,
        replaces: `${callId};to-tag=${toTag};from-tag=${fromTag}`,
        leak: re(x.carrierHost),
      });
      x.passes(phone2, 'the phone taking over');
      x.passes(await phone1, 'the phone replaced');
      await x.done(stays, 'the carrier that stays');

      const cdrs = (await waitFor(
        async () => {
          const c = (await x.rig.store.cdrs.list()).cdrs.filter((x) => x.to === dialled);
          return c.length > 0 ? c : undefined;
        },
        { timeoutMs: 5000, what: 'the CDR' },
      ))!;
      assert.equal(cdrs.length, 1, 'one call: the INVITE with Replaces started none');
      assert.equal(cdrs[0]!.status, 200);
      assert.equal(cdrs[0]!.hangupBy, 'caller');
      assert.equal(extraOf(cdrs[0]!)['replaced'], 1);
    });

    test('attended REFER performed: the consulted party joins the transferee, both PBX legs BYEd, CDRs joined', async () => {
      const toA = '+15556000001';
      const toB = '+16666000001';
      // The transferee and the target each see only the media engine, never the other's address.
      const a = await x.carrier('xfer-carrier-transferee.xml', 'c-attended-a', { leak: re(x.targetHost), hold: '800' });
      const b = await x.carrier('xfer-carrier-joined.xml', 'c-attended-b', { leak: re(x.carrierHost) });
      const dialogFile = join(logs, `${media.net}-consulted-dialog.txt`);
      const consult = x.pbxCall('xfer-pbx-replaced.xml', x.pbx.perform, toB, {
        caller: DID.perform,
        dialogfile: dialogFile,
      });
      const d = await x.dialogWritten(dialogFile, consult);
      const transferor = await x.pbxCall('xfer-pbx-attended.xml', x.pbx.perform, toA, {
        caller: DID.perform,
        target: toB,
        replaces: encodeURIComponent(`${d.callId};to-tag=${d.toTag};from-tag=${d.fromTag}`),
      });
      x.passes(transferor, 'the PBX (transferor)');
      x.passes(await consult, 'the PBX (consultation call, its leg replaced)');
      await x.done(a, 'the transferee');
      await x.done(b, 'the target');

      const original = await x.rig.cdrTo(toA);
      const joined = await x.rig.cdrTo(toB);
      assert.equal(original.status, 200);
      assert.equal(original.reason, `Transferred to ${toB}`);
      assert.equal(original.carrier, 'c-attended-a');
      const transfers = extraOf(original)['transfers'] as Array<Record<string, unknown>>;
      assert.deepEqual(
        [transfers.length, transfers[0]!['to'], transfers[0]!['callSid'], transfers[0]!['attended']],
        [1, toB, joined.callSid, true],
      );
      assert.equal(joined.status, 200);
      assert.equal(joined.carrier, 'c-attended-b');
      assert.equal(joined.reason, 'Normal Clearing');
      assert.equal(joined.hangupBy, 'caller', 'the transferee hung up the joined call');
      assert.equal(extraOf(joined)['transferOf'], original.callSid);
      assert.ok(joined.startAt < original.startAt, 'billed from its own start (the consultation came first)');
      assert.equal(original.endAt, joined.endAt, 'both end with the conversation');
      assert.equal((await x.rig.store.cdrs.list()).cdrs.filter((c) => c.to === toB).length, 1);
    });

    test("attended REFER relayed: the transferee's INVITE with Replaces takes over the consulted call", async () => {
      const toA = '+15557000001';
      const toB = '+16667000001';
      const b = await x.carrier('xfer-carrier-stays.xml', 'c-relay-b', { leak: re(x.ownHost) });
      const replacesFile = join(logs, `${media.net}-relayed-replaces.txt`);
      const a = await x.carrier('xfer-carrier-attended-refer.xml', 'c-relay-a', {
        target: re(toB),
        replacesfile: replacesFile,
        wait: '800',
      });
      const dialogFile = join(logs, `${media.net}-relay-consulted-dialog.txt`);
      const consult = x.pbxCall('xfer-pbx-replaced.xml', x.pbx.relay, toB, {
        caller: DID.relay,
        dialogfile: dialogFile,
      });
      const d = await x.dialogWritten(dialogFile, consult);
      const transferor = x.pbxCall('xfer-pbx-attended-relay.xml', x.pbx.relay, toA, {
        caller: DID.relay,
        target: toB,
        replaces: encodeURIComponent(`${d.callId};to-tag=${d.toTag};from-tag=${d.fromTag}`),
      });
      // The transferee's INVITE with Replaces, from its own host, as the REFER it got asked.
      const replaces = await waitFor(
        () =>
          read(replacesFile)
            .trim()
            .replace(/^\(no log\)$/, '') || undefined,
        {
          timeoutMs: 10_000,
          what: 'the Replaces the transferee got',
        },
      );
      const replacing = await x.pbxCall('xfer-pbx-replacing.xml', x.ownHost, toB, {
        caller: toA,
        replaces: decodeURIComponent(replaces),
        leak: re(x.targetHost),
      });
      x.passes(replacing, "the transferee's INVITE with Replaces");
      x.passes(await transferor, 'the PBX (transferor)');
      x.passes(await consult, 'the PBX (consultation call, its leg replaced)');
      await x.done(a, 'the transferee (REFER)');
      await x.done(b, 'the target');

      const original = await x.rig.cdrTo(toA);
      const consulted = await x.rig.cdrTo(toB);
      assert.deepEqual([original.status, original.reason, original.hangupBy], [200, 'Normal Clearing', 'caller']);
      assert.equal(extraOf(original)['transfers'], undefined, 'relayed: not a transfer of ours');
      assert.deepEqual([consulted.status, consulted.carrier, consulted.hangupBy], [200, 'c-relay-b', 'caller']);
      assert.equal(extraOf(consulted)['replaced'], 1);
    });

    test('Replaces naming no dialog of ours: 481; from a trunk whose policy refuses transfers: 403', async () => {
      const dialled = '+15555000002';
      const replaces = `nosuchcall@${x.pbx.perform};to-tag=abc;from-tag=def`;
      const unknown = await x.pbxCall('xfer-pbx-replaces-refused.xml', x.pbx.perform, dialled, {
        caller: DID.perform,
        replaces,
        expect: '481',
      });
      x.passes(unknown, 'the unknown Replaces');
      const refused = await x.pbxCall('xfer-pbx-replaces-refused.xml', x.pbx.refuse, dialled, {
        caller: DID.refuse,
        replaces,
        expect: '403',
      });
      x.passes(refused, 'the Replaces of a refusing trunk');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(
        (await x.rig.store.cdrs.list()).cdrs.filter((c) => c.to === dialled).length,
        0,
        'no call was started',
      );
    });
  });
}
