//! FerroLB controller: the IP allocator (a plain object), offline planning, and the Kubernetes
//! reconciler that writes `status.loadBalancer`.

pub mod allocator;
