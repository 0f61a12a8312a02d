"""The RayService component: a cluster, its Serve apps and a stable serve Service, in one."""
