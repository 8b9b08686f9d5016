//! Address allocator: pools of CIDRs and ranges, assignments per Service, sharing rules.
