//! The store port on IndexedDB (through `idb`): one database `licet` per origin with the
//! device ID and cached authorization (`meta`), the pending usage records (`pending`) and the
//! sealed reports awaiting a receipt (`outbox`). Each port call is one transaction that awaits
//! only its own requests, because every tab of the origin writes to the same database.

use idb::{Database, DatabaseEvent, Factory, ObjectStoreParams, Transaction, TransactionMode};
use js_sys::Uint8Array;
use licet_protocol::ids::{DeviceId, ReportId};
use licet_protocol::ErrorCode;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::error::LicetError;
use crate::ports::{OutboxEntry, Store};

const DATABASE: &str = "licet";
const VERSION: u32 = 1;
const META: &str = "meta";
const PENDING: &str = "pending";
const OUTBOX: &str = "outbox";
const DEVICE_ID: &str = "deviceId";
const AUTHORIZATION: &str = "authorization";

fn storage_error(_: impl Sized) -> LicetError {
    ErrorCode::StorageError.into()
}

fn bytes_of(value: &JsValue) -> Option<Vec<u8>> {
    value.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

fn value_of(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

pub struct IdbStore {
    database: Database,
}

impl IdbStore {
    /// Opens (and on first use creates) this origin's database.
    pub async fn open() -> Result<IdbStore, LicetError> {
        let mut request =
            Factory::new().map_err(storage_error)?.open(DATABASE, Some(VERSION)).map_err(storage_error)?;
        request.on_upgrade_needed(|event| {
            // Version 1 creates everything; later versions add steps here, never change these.
            let Ok(database) = event.database() else { return };
            let _ = database.create_object_store(META, ObjectStoreParams::new());
            let mut pending = ObjectStoreParams::new();
            pending.auto_increment(true);
            let _ = database.create_object_store(PENDING, pending);
            let _ = database.create_object_store(OUTBOX, ObjectStoreParams::new());
        });
        Ok(IdbStore { database: request.await.map_err(storage_error)? })
    }

    fn transaction(&self, stores: &[&str], mode: TransactionMode) -> Result<Transaction, LicetError> {
        self.database.transaction(stores, mode).map_err(storage_error)
    }
}

impl Drop for IdbStore {
    // A connection left open would block a later upgrade or deletion of the database.
    fn drop(&mut self) {
        self.database.close();
    }
}

/// Commits and waits until the transaction is durable; an aborted one is a storage error.
async fn commit(transaction: Transaction) -> Result<(), LicetError> {
    let result = transaction.commit().map_err(storage_error)?.await.map_err(storage_error)?;
    if result.is_committed() {
        Ok(())
    } else {
        Err(ErrorCode::StorageError.into())
    }
}

/// Runs the steps of one read-write change in `transaction` and commits them; when a step
/// fails, aborts instead. A transaction left to itself commits whatever it did so far (the
/// `idb` handle does not abort when dropped), which could clear the pending ledger without
/// writing the outbox.
async fn change<T>(
    transaction: Transaction,
    steps: impl AsyncFnOnce(&Transaction) -> Result<T, LicetError>,
) -> Result<T, LicetError> {
    match steps(&transaction).await {
        Ok(value) => commit(transaction).await.map(|()| value),
        Err(error) => {
            let _ = transaction.abort();
            Err(error)
        }
    }
}

impl Store for IdbStore {
    async fn device_id(&self, fresh: DeviceId) -> Result<DeviceId, LicetError> {
        change(self.transaction(&[META], TransactionMode::ReadWrite)?, async |transaction| {
            let meta = transaction.object_store(META).map_err(storage_error)?;
            let key = JsValue::from_str(DEVICE_ID);
            let stored = meta.get(key.clone()).map_err(storage_error)?.await.map_err(storage_error)?;
            let existing = stored.as_ref().and_then(bytes_of).and_then(|b| <[u8; 16]>::try_from(b).ok()).map(DeviceId);
            Ok(match existing {
                Some(id) => id,
                None => {
                    meta.put(&value_of(&fresh.0), Some(&key)).map_err(storage_error)?.await.map_err(storage_error)?;
                    fresh
                }
            })
        })
        .await
    }

    async fn load_authorization(&self) -> Result<Option<Vec<u8>>, LicetError> {
        let transaction = self.transaction(&[META], TransactionMode::ReadOnly)?;
        let meta = transaction.object_store(META).map_err(storage_error)?;
        let stored = meta.get(JsValue::from_str(AUTHORIZATION)).map_err(storage_error)?.await.map_err(storage_error)?;
        Ok(stored.as_ref().and_then(bytes_of))
    }

    async fn save_authorization(&self, bytes: &[u8]) -> Result<(), LicetError> {
        change(self.transaction(&[META], TransactionMode::ReadWrite)?, async |transaction| {
            let meta = transaction.object_store(META).map_err(storage_error)?;
            meta.put(&value_of(bytes), Some(&JsValue::from_str(AUTHORIZATION)))
                .map_err(storage_error)?
                .await
                .map_err(storage_error)?;
            Ok(())
        })
        .await
    }

    async fn append_usage(&self, records: &[Vec<u8>]) -> Result<(), LicetError> {
        change(self.transaction(&[PENDING], TransactionMode::ReadWrite)?, async |transaction| {
            let pending = transaction.object_store(PENDING).map_err(storage_error)?;
            for record in records {
                pending.add(&value_of(record), None).map_err(storage_error)?.await.map_err(storage_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn seal_pending(
        &self,
        seal: impl FnOnce(Vec<Vec<u8>>) -> (Vec<OutboxEntry>, Vec<Vec<u8>>),
    ) -> Result<(), LicetError> {
        change(self.transaction(&[PENDING, OUTBOX], TransactionMode::ReadWrite)?, async |transaction| {
            let pending = transaction.object_store(PENDING).map_err(storage_error)?;
            let records: Vec<Vec<u8>> = pending
                .get_all(None, None)
                .map_err(storage_error)?
                .await
                .map_err(storage_error)?
                .iter()
                .filter_map(bytes_of)
                .collect();
            if records.is_empty() {
                return Ok(());
            }
            // The transaction holds `pending` for writing, so what was read is all there is:
            // clearing it in the same transaction cannot drop a record another tab appended.
            pending.clear().map_err(storage_error)?.await.map_err(storage_error)?;
            let (sealed, kept) = seal(records);
            for record in kept {
                pending.add(&value_of(&record), None).map_err(storage_error)?.await.map_err(storage_error)?;
            }
            let outbox = transaction.object_store(OUTBOX).map_err(storage_error)?;
            for entry in sealed {
                let key = JsValue::from_str(&entry.report_id.to_hyphenated());
                outbox.put(&value_of(&entry.bytes), Some(&key)).map_err(storage_error)?.await.map_err(storage_error)?;
            }
            Ok(())
        })
        .await
    }

    async fn outbox(&self) -> Result<Vec<OutboxEntry>, LicetError> {
        let transaction = self.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
        let outbox = transaction.object_store(OUTBOX).map_err(storage_error)?;
        let keys = outbox.get_all_keys(None, None).map_err(storage_error)?.await.map_err(storage_error)?;
        let values = outbox.get_all(None, None).map_err(storage_error)?.await.map_err(storage_error)?;
        Ok(keys
            .iter()
            .zip(values.iter())
            .filter_map(|(key, value)| {
                let report_id = ReportId::parse(&key.as_string()?)?;
                Some(OutboxEntry { report_id, bytes: bytes_of(value)? })
            })
            .collect())
    }

    async fn outbox_len(&self) -> Result<usize, LicetError> {
        let transaction = self.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
        let outbox = transaction.object_store(OUTBOX).map_err(storage_error)?;
        // The keys alone (report IDs), never the sealed reports; `count()` would say the same
        // for 0.7 KB more of wasm (gzip).
        let keys = outbox.get_all_keys(None, None).map_err(storage_error)?.await.map_err(storage_error)?;
        Ok(keys.len())
    }

    async fn remove_reports(&self, ids: &[ReportId]) -> Result<(), LicetError> {
        change(self.transaction(&[OUTBOX], TransactionMode::ReadWrite)?, async |transaction| {
            let outbox = transaction.object_store(OUTBOX).map_err(storage_error)?;
            for id in ids {
                outbox
                    .delete(JsValue::from_str(&id.to_hyphenated()))
                    .map_err(storage_error)?
                    .await
                    .map_err(storage_error)?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use licet_protocol::ids::{DeviceId, ReportId};
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::IdbStore;
    use crate::ports::{OutboxEntry, Store};

    async fn fresh_store() -> IdbStore {
        // Each test run starts from an empty database.
        let factory = idb::Factory::new().unwrap();
        factory.delete(super::DATABASE).unwrap().await.unwrap();
        IdbStore::open().await.unwrap()
    }

    #[test]
    async fn the_first_device_id_stays_and_later_ones_are_ignored() {
        let store = fresh_store().await;
        let first = store.device_id(DeviceId::from_random([1; 16])).await.unwrap();
        let second = store.device_id(DeviceId::from_random([2; 16])).await.unwrap();
        assert_eq!(first, DeviceId::from_random([1; 16]));
        assert_eq!(second, first);
        drop(store);
        let reopened = IdbStore::open().await.unwrap();
        assert_eq!(reopened.device_id(DeviceId::from_random([3; 16])).await.unwrap(), first);
    }

    #[test]
    async fn pending_usage_moves_to_the_outbox_and_leaves_on_receipt() {
        let store = fresh_store().await;
        store.append_usage(&[b"one".to_vec(), b"two".to_vec()]).await.unwrap();
        let mut seen = Vec::new();
        store
            .seal_pending(|records| {
                seen = records;
                (vec![OutboxEntry { report_id: ReportId([5; 16]), bytes: b"report".to_vec() }], vec![b"two".to_vec()])
            })
            .await
            .unwrap();
        assert_eq!(seen, vec![b"one".to_vec(), b"two".to_vec()]);
        let outbox = store.outbox().await.unwrap();
        assert_eq!(outbox, vec![OutboxEntry { report_id: ReportId([5; 16]), bytes: b"report".to_vec() }]);
        assert_eq!(store.outbox_len().await.unwrap(), 1);
        // Only the kept record is pending now.
        store
            .seal_pending(|records| {
                assert_eq!(records, vec![b"two".to_vec()]);
                (vec![], vec![])
            })
            .await
            .unwrap();
        store
            .seal_pending(|records| {
                assert!(records.is_empty());
                (vec![], vec![])
            })
            .await
            .unwrap();
        store.remove_reports(&[ReportId([5; 16])]).await.unwrap();
        assert!(store.outbox().await.unwrap().is_empty());
        assert_eq!(store.outbox_len().await.unwrap(), 0);
    }

    #[test]
    async fn a_change_whose_step_fails_leaves_nothing_behind() {
        let store = fresh_store().await;
        store.append_usage(&[b"kept".to_vec()]).await.unwrap();
        let failed = super::change(
            store.transaction(&[super::PENDING], idb::TransactionMode::ReadWrite).unwrap(),
            async |transaction| {
                let pending = transaction.object_store(super::PENDING).unwrap();
                pending.clear().unwrap().await.unwrap();
                Err::<(), _>(licet_protocol::ErrorCode::StorageError.into())
            },
        )
        .await;
        assert_eq!(failed.unwrap_err().code, licet_protocol::ErrorCode::StorageError);
        // The clear was rolled back with the failed change.
        let mut seen = Vec::new();
        store
            .seal_pending(|records| {
                seen = records;
                (vec![], vec![])
            })
            .await
            .unwrap();
        assert_eq!(seen, vec![b"kept".to_vec()]);
    }

    #[test]
    async fn the_authorization_is_cached_across_openings() {
        let store = fresh_store().await;
        assert_eq!(store.load_authorization().await.unwrap(), None);
        store.save_authorization(b"signed").await.unwrap();
        let reopened = IdbStore::open().await.unwrap();
        assert_eq!(reopened.load_authorization().await.unwrap(), Some(b"signed".to_vec()));
    }
}
