"""Do a CPU device's successive program calls wait for the other devices to end each call?

    python benchmarks/segment_waiting.py            # 10 calls, heavy = 800 loop steps
    python benchmarks/segment_waiting.py --small    # heavy = 200

`bp.fit` and `fit_batch` run their chains in segments, one program call each, every device
running its own lanes (`jax.shard_map`). If each call ended on all devices together, a device
whose segment ends first would idle until the slowest ends. Here a program over 2 forced CPU
devices runs a loop of matrix products whose length each device reads from its data, without
the package. Schedules of 10 calls: "alternating" gives the heavy loop to device 0, then 1,
then 0, ... (the other a light loop); "in turn" to device 0 five times, then to device 1 five
times. With each device running on from call to call, both take the time of five heavy loops
side by side (printed as "5 heavy loops, one call"); with every call waiting for its slowest
device, twice that. Printed twice; the host's other load moves the figures.
"""

import argparse
import os
import time

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true")
heavy = 200 if parser.parse_args().small else 800
light = 4

jax.config.update("jax_enable_x64", True)  # as the package runs
mesh = Mesh(np.array(jax.devices()), ("device",))
shard = NamedSharding(mesh, PartitionSpec("device"))


def lane(x, steps):
    def body(carry):
        i, v = carry
        return i + 1, jnp.sin(v) @ jnp.cos(v).T / 100.0

    _, v = jax.lax.while_loop(lambda carry: carry[0] < steps[0], body, (0, x[0]))
    return v[None]


spec = PartitionSpec("device")
program = jax.jit(jax.shard_map(lane, mesh=mesh, in_specs=spec, out_specs=spec))
start = jax.device_put(jnp.full((2, 200, 200), 0.01), shard)


def seconds(schedule) -> float:
    v = start
    began = time.perf_counter()
    for steps in schedule:  # queued without waiting, as the package queues its segments
        v = program(v, jax.device_put(jnp.array(steps), shard))
    jax.block_until_ready(v)
    return time.perf_counter() - began


seconds([[1, 1]])  # compile
schedules = {
    "alternating": [[heavy, light], [light, heavy]] * 5,
    "in turn": [[heavy, light]] * 5 + [[light, heavy]] * 5,
    "5 heavy loops, one call": [[5 * heavy, 5 * heavy]],
    "every call heavy on both": [[heavy, heavy]] * 5,
}
print(f"# {jax.device_count()} CPU devices, heavy {heavy}, light {light} loop steps")
for _ in range(2):
    print(", ".join(f"{name} {seconds(s):.2f} s" for name, s in schedules.items()))
