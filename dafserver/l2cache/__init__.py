"""The L2 cache (PCGL2Cache 1.3.1): per-L2-node shape features computed from the segmentation.

- :mod:`~dafserver.l2cache.features` computes the features of one node from its voxel mask;
  :mod:`~dafserver.l2cache.pca` is its principal-axes step.
- :mod:`~dafserver.l2cache.chunks` computes every node of one atomic chunk from the chunk's
  supervoxel volume and the nodes' supervoxels.
- :mod:`~dafserver.l2cache.fill` fills a graph's cache once (every L2 node the graph ever had)
  and then after every edit (the new L2 ids, synchronously).
- :mod:`~dafserver.l2cache.store` keeps the features in the deployment database in their
  storage dtypes; :mod:`~dafserver.l2cache.served` turns them into what the route serves.
"""
