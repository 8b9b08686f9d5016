//! The view layer: Kubernetes objects -> small owned domain structs (`ServiceView`, `NodeView`, ...).
