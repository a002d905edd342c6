using Convnet.Data;
using Convnet.Models;

namespace Convnet.Cli;

/// <summary>Puts a data set's classes in a model's order, by name, before the two are compared.</summary>
internal static class ClassMatching
{
    /// <summary>
    /// When both the model and the data name their classes, the data relabelled in the model's
    /// class order (a class the model does not know is an error naming it and <paramref name="dataPath"/>);
    /// otherwise the data as it is.
    /// </summary>
    public static Dataset ForModel(Dataset data, IClassifier model, string dataPath)
    {
        if (model.ClassNames is not { } names || data.ClassNames is not { } own)
        {
            return data;
        }
        var known = new HashSet<string>(names, StringComparer.Ordinal);
        foreach (string name in own)
        {
            if (!known.Contains(name))
            {
                string list = string.Join(", ", names.Take(10)) + (names.Count > 10 ? ", ..." : "");
                throw new UserError($"{dataPath}: class '{name}' is not one of the model's {names.Count} classes ({list})");
            }
        }
        return data.WithClassNames(names);
    }
}
