using System.Globalization;
using System.Text;
using Convnet.IO;

namespace Convnet.Tuning;

/// <summary>A search's results as a table: one row per trial, best first, as <c>DIR/leaderboard.csv</c> holds them.</summary>
public static class Leaderboard
{
    /// <summary>
    /// The header: rank, trial, each parameter (and <c>arch</c> filled in when the space has a template),
    /// the mean and standard deviation of val_accuracy and val_loss over the folds (no deviation for one validation split), epochs trained (mean over
    /// the folds), training seconds (all folds), the rung (successive halving), and why a trial failed.
    /// </summary>
    public static IReadOnlyList<string> Columns(SearchSpace space)
    {
        ArgumentNullException.ThrowIfNull(space);
        var columns = new List<string> { "rank", "trial" };
        columns.AddRange(space.Parameters.Select(p => p.Name));
        if (space.Template is not null)
        {
            columns.Add("arch");
        }
        columns.AddRange(["val_accuracy_mean", "val_accuracy_std", "val_loss_mean", "val_loss_std", "epochs", "seconds", "rung", "failure"]);
        return columns;
    }

    /// <summary>Each row's cells in <see cref="Columns"/>' order (numbers in invariant culture; empty for a failed trial's scores).</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Rows(SearchSpace space, IReadOnlyList<TrialResult> ranked)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(ranked);
        static string N(double x, string format) => double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "";
        var rows = new List<IReadOnlyList<string>>();
        for (int i = 0; i < ranked.Count; i++)
        {
            var r = ranked[i];
            var row = new List<string> { (i + 1).ToString(CultureInfo.InvariantCulture), r.Trial.Index.ToString(CultureInfo.InvariantCulture) };
            row.AddRange(r.Trial.Point);
            if (space.Template is not null)
            {
                row.Add(space.OptionValues(r.Trial.Point).First(v => v.Key == "arch").Value);
            }
            // A standard deviation needs folds: one validation split has none.
            bool folds = r.Folds.Count > 1;
            row.AddRange([N(r.MeanAccuracy, "F6"), folds ? N(r.StdAccuracy, "F6") : "", N(r.MeanLoss, "F6"), folds ? N(r.StdLoss, "F6") : "",
                r.EpochsTrained.ToString("0.##", CultureInfo.InvariantCulture), r.Seconds.ToString("F1", CultureInfo.InvariantCulture),
                r.Rung.ToString(CultureInfo.InvariantCulture), r.Failure ?? ""]);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Writes the table as CSV (RFC 4180 quoting) to <paramref name="path"/>, atomically.</summary>
    public static void WriteCsv(string path, SearchSpace space, IReadOnlyList<TrialResult> ranked)
    {
        var text = new StringBuilder();
        text.Append(string.Join(',', Columns(space).Select(Quote))).Append('\n');
        foreach (var row in Rows(space, ranked))
        {
            text.Append(string.Join(',', row.Select(Quote))).Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    private static string Quote(string cell) => cell.IndexOfAny([',', '"', '\n', '\r']) < 0 ? cell : "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
