/*
 * DocbookWorker - one JVM, one compiled stylesheet, one article per request:
 * a persistent worker on Bazel's JSON worker protocol.
 *
 *   java -Dxml.catalog.files=/etc/xml/catalog
 *        -cp saxon.jar:xml-resolver.jar:gson.jar:build/classes
 *        DocbookWorker STYLESHEET --persistent_worker
 *
 * reads one WorkRequest a line on stdin, {"arguments": [IN, OUT], ...},
 * converts IN into OUT, and answers one WorkResponse a line on stdout,
 * {"exitCode": 0 or 1, "output": "...", "requestId": ID}. Without
 * --persistent_worker it converts once, `DocbookWorker STYLESHEET IN OUT`,
 * which is how juggle runs it one-shot (--no-workers, Slurm).
 *
 * The conversion is BatchTransform's (Saxon 6.5 through JAXP with the
 * catalog's readers and resolver), so the output is byte for byte one
 * StyleSheet run's. The stylesheet is compiled once per worker; each
 * request pays only its transform. JSON goes through Gson. Saxon's own
 * messages (xsl:message) would go to System.out: in worker mode that is
 * pointed at stderr, and responses go to the real stdout alone. One
 * request at a time: the catalog resolver is not thread-safe.
 */
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import javax.xml.transform.Templates;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.sax.SAXSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.xml.resolver.tools.CatalogResolver;
import org.apache.xml.resolver.tools.ResolvingXMLReader;
import org.xml.sax.InputSource;

public final class DocbookWorker {
    private final CatalogResolver resolver = new CatalogResolver();
    private final Templates templates;

    private DocbookWorker(String stylesheet) throws Exception {
        TransformerFactory tf = new com.icl.saxon.TransformerFactoryImpl();
        tf.setURIResolver(resolver);
        templates = tf.newTemplates(source(new File(stylesheet)));
    }

    private static SAXSource source(File f) {
        return new SAXSource(new ResolvingXMLReader(), new InputSource(f.toURI().toString()));
    }

    /* Converts in into out; null when it worked, else why not (out removed). */
    private String convert(String in, String out) {
        File o = new File(out);
        try {
            Transformer t = templates.newTransformer();
            t.setURIResolver(resolver);
            t.transform(source(new File(in)), new StreamResult(o));
            return null;
        } catch (Exception e) {
            o.delete();
            return in + ": " + e.getMessage();
        }
    }

    private static void serve(DocbookWorker w) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        System.setOut(System.err);
        Gson gson = new Gson();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().isEmpty())
                continue;
            JsonObject req = JsonParser.parseString(line).getAsJsonObject();
            JsonArray args = req.has("arguments") ? req.getAsJsonArray("arguments") : new JsonArray();
            int id = req.has("requestId") ? req.get("requestId").getAsInt() : 0;
            JsonObject resp = new JsonObject();
            if (args.size() != 2) {
                resp.addProperty("exitCode", 2);
                resp.addProperty("output", "usage: DocbookWorker STYLESHEET IN OUT\n");
            } else {
                String in0 = args.get(0).getAsString(), out0 = args.get(1).getAsString();
                String err = w.convert(in0, out0);
                resp.addProperty("exitCode", err == null ? 0 : 1);
                resp.addProperty("output", err == null ? "converted " + in0 + " -> " + out0 + "\n"
                                                      : "DocbookWorker: " + err + "\n");
            }
            resp.addProperty("requestId", id);
            out.println(gson.toJson(resp));
        }
    }

    public static void main(String[] args) {
        boolean persistent = args.length == 2 && args[1].equals("--persistent_worker");
        if (!persistent && args.length != 3) {
            System.err.println("usage: DocbookWorker STYLESHEET IN OUT, "
                               + "or DocbookWorker STYLESHEET --persistent_worker");
            System.exit(2);
        }
        DocbookWorker w;
        try {
            w = new DocbookWorker(args[0]);
        } catch (Exception e) {
            System.err.println("DocbookWorker: " + args[0] + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        if (persistent) {
            try {
                serve(w);
            } catch (Exception e) {
                System.err.println("DocbookWorker: " + e);
                System.exit(1);
            }
            return;
        }
        String err = w.convert(args[1], args[2]);
        if (err != null) {
            System.err.println("DocbookWorker: " + err);
            System.exit(1);
        }
        System.out.println("converted " + args[1] + " -> " + args[2]);
    }
}
