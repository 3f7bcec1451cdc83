//! Everything this function manages on the cluster, for the sweep and the access report: its
//! bindings of every kind the cluster serves and every Profile, each read in pages so that no
//! answer grows with the number of teams. I/O.

use kube::api::ListParams;
use kube::core::{Expression, Selector};

use crate::domain::objects::{Kind, MANAGED_BY_LABEL, MANAGER, Object};
use crate::error::Error;
use crate::kubernetes::typed::KindApi;

/// Items per page: kubectl's default chunk size.
const PAGE: u32 = 500;

/// What the cluster holds of this function's, as read.
pub struct Inventory {
    /// This function's RoleBindings and Istio twins, everywhere.
    pub bindings: Vec<Object>,
    /// Every Profile.
    pub profiles: Vec<Object>,
}

/// Every object of `kind` (cluster-wide) matching `params`, page by page.
pub async fn list_all(
    client: &kube::Client,
    kind: Kind,
    params: ListParams,
) -> Result<Vec<Object>, Error> {
    let api = KindApi::new(client, kind, None);
    let mut params = params.limit(PAGE);
    let mut objects = Vec::new();
    loop {
        let (page, next) = api.list_page(&params).await.map_err(|source| {
            Error::kubernetes("list", &format!("{} list", kind.name()), source)
        })?;
        objects.extend(page);
        match next {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(objects),
        }
    }
}

/// This function's bindings of `binding_kinds` and every Profile, read concurrently.
pub async fn inventory(client: &kube::Client, binding_kinds: &[Kind]) -> Result<Inventory, Error> {
    let ours = ListParams::default().labels_from(&Selector::from(Expression::Equal(
        MANAGED_BY_LABEL.into(),
        MANAGER.into(),
    )));
    let (bindings, profiles) = futures::join!(
        futures::future::join_all(binding_kinds.iter().map(|kind| list_all(
            client,
            *kind,
            ours.clone()
        ))),
        list_all(client, Kind::Profile, ListParams::default()),
    );
    Ok(Inventory {
        bindings: bindings
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        profiles: profiles?,
    })
}
