"""The MaterializationEngine's data side: frozen versions of the annotation tables (Parquet, queried
with DuckDB), live snapshots at any timestamp, the query compiler and the response encodings.

Modules, one job each:

- ``layout``: an annotation schema → the flat columns of its materialized table (Arrow types).
- ``catalog``: version, table, row-count and view records in the deployment database.
- ``lookup``: supervoxel ids under voxel points, read from the segmentation volume.
- ``snapshot``: the rows of an annotation table alive at a timestamp, as an Arrow table with
  supervoxels and roots at that timestamp.
- ``freeze``: make a version (write one Parquet file per table and its records).
- ``bodies``: the request body schemas (marshmallow's ``unknown=RAISE`` semantics).
- ``query``: simple and join queries compiled to DuckDB SQL over Parquet files or Arrow tables.
- ``live``: the live query (closest version plus the changes since, roots at the query time).
- ``encode``: Arrow IPC stream / JSON bodies and the response headers.
- ``engine``: the façade the routes call.
"""
