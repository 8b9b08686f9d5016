//! FerroLB configuration: ConfigMap YAML (FerroLB and MetalLB legacy format) to a validated `Config`.
