using Npgsql;
using NpgsqlTypes;
using Wharf.Core.Digests;
using Wharf.Core.Search;
using Wharf.Data.PostgreSql;

/// <summary>The catalog benchmark's data in PostgreSQL: a new database, migrated, filled by binary COPY, analyzed.</summary>
internal static class PostgreSqlSeed
{
    /// <summary>Seeds a new database on the server of <paramref name="admin"/>; returns its connection string.</summary>
    public static async Task<string> SeedAsync(string admin, int repositoryCount, int tagCount, long now, Func<int, string> repositoryName, Func<int, string> tag)
    {
        var name = "wharf_catalog_bench_" + Guid.NewGuid().ToString("N")[..8];
        await using (var server = new NpgsqlConnection(admin))
        {
            await server.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", server);
            await create.ExecuteNonQueryAsync();
        }
        var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
        await using (var connections = new PostgreSqlConnections(connectionString))
        {
            await new PostgreSqlMigrator(connections).MigrateAsync(CancellationToken.None);
        }
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY repositories (name, created_at, visibility, description, description_words, push_count, pull_count, last_pushed_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < repositoryCount; i++)
            {
                var description = $"A {Words.Adjectives[(i * 7) % Words.Adjectives.Length]} {Words.Nouns[(i * 13) % Words.Nouns.Length]} service";
                await copy.StartRowAsync();
                await copy.WriteAsync(repositoryName(i), NpgsqlDbType.Text);
                await copy.WriteAsync(now, NpgsqlDbType.Bigint);
                await copy.WriteAsync(i % 10 == 3 ? "private" : "public", NpgsqlDbType.Text);
                await copy.WriteAsync(description, NpgsqlDbType.Text);
                await copy.WriteAsync(string.Join(' ', SearchQuery.Tokenize(description)), NpgsqlDbType.Text);
                await copy.WriteAsync(1L, NpgsqlDbType.Bigint);
                await copy.WriteAsync((long)(i % 1000), NpgsqlDbType.Bigint);
                await copy.WriteAsync(now, NpgsqlDbType.Bigint);
            }
            await copy.CompleteAsync();
        }
        // One repository with many tags, all on one small image.
        var manifest = System.Text.Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}""");
        long repositoryId, manifestId;
        await using (var setup = new NpgsqlCommand(
            """
            WITH r AS (
                INSERT INTO repositories (name, created_at, visibility, description, description_words, readme, last_pushed_at, push_count)
                VALUES ('bench/many-tags', @now, 'public', 'Many tags', 'many tags', @readme, @now, 1) RETURNING id),
            m AS (
                INSERT INTO manifests (repository_id, digest, media_type, content, size, pushed_at)
                SELECT id, @digest, 'application/vnd.oci.image.manifest.v1+json', @content, @size, @now FROM r RETURNING id, repository_id),
            d AS (INSERT INTO manifest_details (manifest_id, size, platforms) SELECT id, 0, 'linux/amd64' FROM m)
            SELECT repository_id, id FROM m
            """, connection))
        {
            setup.Parameters.AddWithValue("now", now);
            setup.Parameters.AddWithValue("digest", Digest.Compute(manifest).ToString());
            setup.Parameters.AddWithValue("content", manifest);
            setup.Parameters.AddWithValue("size", (long)manifest.Length);
            setup.Parameters.AddWithValue("readme", string.Concat(Enumerable.Repeat("## Usage\n\nRun `docker run bench/many-tags:v000001` and read the [docs](https://example.invalid/).\n\n| option | meaning |\n|---|---|\n| -p | port |\n\n", 40)));
            await using var reader = await setup.ExecuteReaderAsync();
            await reader.ReadAsync();
            repositoryId = reader.GetInt64(0);
            manifestId = reader.GetInt64(1);
        }
        await using (var copy = await connection.BeginBinaryImportAsync("COPY tags (repository_id, name, manifest_id, updated_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < tagCount; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(repositoryId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(tag(i), NpgsqlDbType.Text);
                await copy.WriteAsync(manifestId, NpgsqlDbType.Bigint);
                await copy.WriteAsync(now - (tagCount - i), NpgsqlDbType.Bigint);
            }
            await copy.CompleteAsync();
        }
        await using (var analyze = new NpgsqlCommand("VACUUM ANALYZE", connection))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        return connectionString;
    }
}
