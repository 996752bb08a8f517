/**
 * The container runtime layer: from Docker's container settings to a
 * process supervised outside the daemon.
 *
 *  - `spec`    (pure) ContainerSpec + image config + machine facts → OCI
 *              config.json, with Docker's rules for command, env, user,
 *              capabilities, mounts, devices, resources and seccomp.
 *              `user` and `hostFacts`/`resolveDevices` are the small impure
 *              edges that gather its inputs.
 *  - `runc`    (thin) one method per runc subcommand, no state.
 *  - `conmon`  (process supervision) creates containers and exec sessions
 *              under conmon, which double-forks so containers survive the
 *              daemon; exit codes come back through exit files, stdio
 *              through the attach socket and the k8s-file log.
 *  - `logs`    reads (tail/since/until/follow) the k8s-file log.
 *  - `stats`   reads cgroup v1/v2 counters in the Engine API's stats shape.
 */
export * from './oci-spec.js';
export * from './seccomp.js';
export { dockerDefaultSeccompProfile } from './seccomp-default.js';
export * from './user.js';
export * from './spec.js';
export * from './runc.js';
export * from './conmon.js';
export * from './logs.js';
export * from './stats.js';
